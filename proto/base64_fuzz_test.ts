/**
 * Fuzz tests of the base64 decoders: tickets and keys arrive as base64url
 * from peers, so decoding is strict and must fail only with `TypeError`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzText } from "./_fuzz.ts";
import { decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url } from "./base64.ts";

const sample = new Uint8Array(40).map((_, i) => (i * 37 + 11) & 0xff);
const TEXTS = [
  encodeBase64Url(sample),
  encodeBase64Url(sample.subarray(0, 31)),
  encodeBase64Url(sample.subarray(0, 32)),
  encodeBase64(sample.subarray(0, 5)),
  encodeBase64(sample.subarray(0, 4)),
  "",
];

Deno.test("decodeBase64Url() and decodeBase64() fuzzed: one spelling per byte string or a TypeError", async () => {
  await fuzzText({
    name: "decodeBase64Url+decodeBase64",
    seeds: TEXTS,
    expected: (err) => err instanceof TypeError,
    run(input) {
      let loose: Uint8Array | undefined;
      try {
        loose = decodeBase64(input);
      } catch (err) {
        if (!(err instanceof TypeError)) throw err;
      }
      if (loose) assert.deepEqual(decodeBase64(encodeBase64(loose)), loose);
      const bytes = decodeBase64Url(input);
      // Strict: the only accepted spellings are the canonical one, padded or not.
      assert.equal(input.replace(/=+$/, ""), encodeBase64Url(bytes));
      assert.deepEqual(decodeBase64(input), bytes);
    },
  });
});

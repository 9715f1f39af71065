/**
 * Fuzz tests of the codec's parsers of message bodies: they read what a
 * server or client sent and must return, never throw, for any body.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzBytes } from "../_fuzz.ts";
import { HoopError } from "../errors.ts";
import {
  cstring,
  cstringList,
  encodeErrorResponse,
  encodeStartup,
  parseErrorResponse,
  parseStartupBody,
} from "./codec.ts";

const ERROR_BODIES = [
  encodeErrorResponse("ERROR", "42P01", 'relation "x" does not exist').subarray(5),
  encodeErrorResponse("FATAL", "28P01", "é\u001b[2J").subarray(5),
  new TextEncoder().encode("SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0"),
];

Deno.test("parseErrorResponse(), cstring() and cstringList() fuzzed: they return for any body", async () => {
  await fuzzBytes({
    name: "parseErrorResponse+cstringList",
    seeds: ERROR_BODIES,
    expected: () => false,
    run(input, rng) {
      const e = parseErrorResponse(input);
      for (const k of ["severity", "code", "message"] as const) assert.equal(typeof e[k], "string");
      for (const [k, v] of Object.entries(e.fields)) {
        assert.equal(k.length, 1);
        assert.equal(typeof v, "string");
      }
      const off = rng.int(input.length + 1);
      const list = cstringList(input, off);
      assert.ok(list.length <= input.length - off);
      const s = cstring(input, off);
      assert.ok(s.next > off && s.next <= input.length + 1);
    },
  });
});

Deno.test("parseStartupBody() fuzzed: a startup packet or an invalid_argument error", async () => {
  await fuzzBytes({
    name: "parseStartupBody",
    // readStartupPacket() hands it bodies of at least 4 bytes (a length of at least 8).
    seeds: [encodeStartup({ user: "a", database: "b" }).subarray(4)],
    random: (rng) => rng.bytes(4 + rng.int(64)),
    expected: (err) => err instanceof HoopError && err.code === "invalid_argument",
    run(input) {
      if (input.length < 4) return;
      const p = parseStartupBody(input);
      if (p.kind === "cancel") assert.ok(input.length >= 12);
      if (p.kind === "startup") assert.equal(p.protocol >>> 16, 3);
    },
  });
});

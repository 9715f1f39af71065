/**
 * Fuzz tests of {@linkcode ScramClient}'s reading of the server's SCRAM
 * messages: the agent decodes them from whatever answers at the connection's
 * address, before that server has proved anything.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzText } from "../../proto/_fuzz.ts";
import { HoopError } from "../../proto/errors.ts";
import { ScramClient } from "./scram.ts";

const enc = new TextEncoder();
const NONCE = "rOprNGfwEbeRWgbNEkqO";

/** PBKDF2 runs this many rounds at most per input, so the run stays fast; above, the input is skipped. */
const MAX_FUZZ_ROUNDS = 64;

const SERVER_FIRSTS = [
  `r=${NONCE}Xq3)tZ9k0,s=c2FsdHNhbHRzYWx0c2FsdA==,i=16`,
  `r=${NONCE}x,s=c2FsdA,i=1`,
  `r=${NONCE}xyz,s= ,i=2,e=ignored`,
];

function rounds(serverFirst: string): number {
  const m = /(?:^|,)i=([^,]*)/.exec(serverFirst);
  return m ? Number(m[1]) : 0;
}

Deno.test("ScramClient.clientFinal() fuzzed: a proof or an unauthenticated HoopError", async () => {
  await fuzzText({
    name: "ScramClient.clientFinal",
    seeds: SERVER_FIRSTS,
    expected: (err) => err instanceof HoopError && err.code === "unauthenticated",
    async run(input) {
      if (rounds(input) > MAX_FUZZ_ROUNDS) return;
      const client = new ScramClient("pencil", { nonce: NONCE });
      client.clientFirst();
      const final = new TextDecoder().decode(await client.clientFinal(enc.encode(input)));
      assert.match(final, /^c=biws,r=[^,]+,p=[A-Za-z0-9+/]+=*$/);
    },
  });
});

Deno.test("ScramClient.verifyServerFinal() fuzzed: a forged signature is always refused", async () => {
  const client = new ScramClient("pencil", { nonce: NONCE });
  client.clientFirst();
  await client.clientFinal(enc.encode(SERVER_FIRSTS[0]));
  await fuzzText({
    name: "ScramClient.verifyServerFinal",
    seeds: ["v=" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=", "e=invalid-proof", "v=", ""],
    expected: (err) => err instanceof HoopError && err.code === "unauthenticated",
    run(input) {
      client.verifyServerFinal(enc.encode(input));
      assert.fail("a server-final message without the real signature was accepted");
    },
  });
});

/**
 * Fuzz tests of {@linkcode MessageReader} over mutated, randomly split
 * streams of PostgreSQL messages, with the default and a small body limit.
 *
 * @module
 */
import assert from "node:assert/strict";
import { concatBytes } from "../bytes.ts";
import { fuzzBytes, fuzzConn, randomRecords } from "../_fuzz.ts";
import { HoopError } from "../errors.ts";
import {
  encodeErrorResponse,
  encodeMessage,
  encodePasswordMessage,
  encodeQuery,
  encodeTerminate,
} from "./codec.ts";
import { MessageReader } from "./message_reader.ts";

const SMALL_LIMIT_BYTES = 64;
/**
 * The larger limit of the run. Not the default `MAX_MESSAGE_BODY_BYTES`: the reader
 * allocates a body before reading it, so random lengths would cost up to
 * 256 MiB per input; the code path is the same.
 */
const LARGE_LIMIT_BYTES = 1024 * 1024;

const STREAMS = [
  concatBytes([encodeQuery("select 1"), encodeTerminate()]),
  concatBytes([encodePasswordMessage("secret"), encodeMessage("S"), encodeMessage("H")]),
  encodeErrorResponse("FATAL", "28P01", 'password authentication failed for user "x"'),
  encodeQuery("x".repeat(300)),
];

Deno.test("MessageReader.next() fuzzed: messages within the limit or a typed error", async () => {
  await fuzzBytes({
    name: "MessageReader",
    seeds: STREAMS,
    random: (rng) => randomRecords(rng, true),
    expected: (err) => err instanceof HoopError || err instanceof Deno.errors.UnexpectedEof,
    async run(input, rng) {
      const limit = rng.chance(0.5) ? SMALL_LIMIT_BYTES : LARGE_LIMIT_BYTES;
      const reader = new MessageReader(fuzzConn(input, rng), {
        maxBodyBytes: limit,
        bufferBytes: 1 + rng.int(256),
      });
      let total = 0;
      for (;;) {
        const m = await reader.next();
        if (m === null) break;
        assert.equal(m.type.length, 1);
        assert.ok(m.body.length <= limit);
        total += 5 + m.body.length;
      }
      assert.equal(total, input.length, "a clean end must come after whole messages only");
    },
  });
});

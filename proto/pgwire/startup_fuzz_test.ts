/**
 * Fuzz tests of the PostgreSQL startup negotiation: {@linkcode negotiateStartup}
 * and {@linkcode readStartupPacket} over mutated, randomly split client streams.
 *
 * @module
 */
import assert from "node:assert/strict";
import { concatBytes } from "../bytes.ts";
import { fuzzBytes, fuzzConn } from "../_fuzz.ts";
import { HoopError } from "../errors.ts";
import {
  encodeCancel,
  encodeQuery,
  encodeSslRequest,
  encodeStartup,
  MAX_STARTUP_PACKET_BYTES,
  parseStartupBody,
  PROTOCOL_3_0,
} from "./codec.ts";
import { MAX_ENCRYPTION_REQUESTS, negotiateStartup, readStartupPacket } from "./startup.ts";

const STREAMS = [
  encodeStartup({ user: "alice", database: "app", application_name: "psql" }),
  concatBytes([encodeSslRequest(), encodeStartup({ user: "bob" }), encodeQuery("select 1")]),
  concatBytes([
    encodeSslRequest(),
    encodeSslRequest(),
    encodeStartup({ user: "é" }, PROTOCOL_3_0 + 2),
  ]),
  encodeCancel(4242, new Uint8Array([1, 2, 3, 4])),
  encodeStartup({}),
];

function isStartupError(err: unknown): boolean {
  return err instanceof HoopError || err instanceof Deno.errors.UnexpectedEof;
}

Deno.test("negotiateStartup() fuzzed: the client's packet, exactly consumed, or a typed error", async () => {
  await fuzzBytes({
    name: "negotiateStartup",
    seeds: STREAMS,
    expected: isStartupError,
    async run(input, rng) {
      const conn = fuzzConn(input, rng);
      const got = await negotiateStartup(conn);
      // Each answered encryption request is one "N".
      assert.ok(conn.written.length <= MAX_ENCRYPTION_REQUESTS);
      for (const w of conn.written) assert.deepEqual(w, new TextEncoder().encode("N"));
      if (got === null) return;
      assert.ok(got.packet.kind === "startup" || got.packet.kind === "cancel");
      assert.ok(got.raw.length >= 8 && got.raw.length <= MAX_STARTUP_PACKET_BYTES);
      const declared = new DataView(got.raw.buffer, got.raw.byteOffset).getInt32(0);
      assert.equal(declared, got.raw.length);
      // The packet must end exactly where the reader stopped: nothing after it is eaten.
      assert.deepEqual(input.subarray(conn.consumed - got.raw.length, conn.consumed), got.raw);
      if (got.packet.kind === "startup") {
        assert.equal(got.packet.protocol >>> 16, 3);
        for (const v of Object.values(got.packet.params)) assert.equal(typeof v, "string");
      }
    },
  });
});

Deno.test("readStartupPacket() fuzzed: one packet, never read past, or a typed error", async () => {
  await fuzzBytes({
    name: "readStartupPacket",
    seeds: STREAMS,
    expected: isStartupError,
    async run(input, rng) {
      const conn = fuzzConn(input, rng);
      const got = await readStartupPacket(conn);
      if (got === null) {
        assert.equal(input.length, 0);
        return;
      }
      assert.equal(conn.consumed, got.raw.length);
      assert.deepEqual(parseStartupBody(got.raw.subarray(4)), got.packet);
    },
  });
});

/**
 * Fuzz tests of the control-packet codec: {@linkcode decodePacket} on mutated
 * encodings and random bytes, and {@linkcode specString} on what it returns.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzBytes } from "./_fuzz.ts";
import {
  decodePacket,
  encodePacket,
  makePacket,
  PacketDecodeError,
  PacketType,
  specString,
} from "./packet.ts";
import { helloPacket } from "./hello.ts";

/** Keys a decoder must treat as plain keys, never as the map's own machinery. */
const ODD_KEYS = ["", "__proto__", "constructor", "toString", "hasOwnProperty", "length"];

const PACKETS = [
  encodePacket(makePacket(PacketType.HEARTBEAT)),
  encodePacket(helloPacket({ version: "1.0.0", hostname: "db-1", platform: "linux", protocol: 1 })),
  encodePacket(
    makePacket(PacketType.SESSION_OPEN, {
      sid: "9f0c",
      ticket: "AAAA",
      connection: "pg",
      type: "postgres",
      verb: "connect",
    }, { host: "127.0.0.1", port: 5432 }),
  ),
  encodePacket(makePacket(PacketType.SESSION_FAILED, { sid: "x", message: "é\u0000\u001b" })),
  encodePacket(makePacket(PacketType.REVOKED, Object.fromEntries(ODD_KEYS.map((k) => [k, k])))),
];

Deno.test("decodePacket() fuzzed: a well-formed packet or a PacketDecodeError", async () => {
  await fuzzBytes({
    name: "decodePacket",
    seeds: PACKETS,
    expected: (err) => err instanceof PacketDecodeError,
    run(input) {
      const p = decodePacket(input);
      assert.equal(typeof p.type, "string");
      assert.ok(p.payload instanceof Uint8Array);
      assert.ok(p.payload.length <= input.length);
      for (const [k, v] of Object.entries(p.spec)) {
        assert.ok(v instanceof Uint8Array, `spec value of "${k}" is not bytes`);
        assert.equal(typeof specString(p, k), "string");
      }
      for (const k of ODD_KEYS) {
        const s = specString(p, k);
        assert.ok(s === undefined || typeof s === "string", `specString(p, "${k}") is ${typeof s}`);
      }
      // What decodes re-encodes to bytes that decode to the same packet.
      assert.deepEqual(decodePacket(encodePacket(p)), p);
    },
  });
});

Deno.test("specString() answers undefined for an absent key named like an Object method (fuzz finding)", () => {
  const p = decodePacket(encodePacket(makePacket(PacketType.HEARTBEAT)));
  assert.equal(specString(p, "constructor"), undefined);
  assert.equal(specString(p, "toString"), undefined);
  assert.equal(specString(p, "__proto__"), undefined);
});

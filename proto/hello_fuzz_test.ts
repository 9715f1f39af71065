/**
 * Fuzz tests of {@linkcode parseHello} on packets decoded from mutated HELLO
 * encodings: a HELLO is the first thing a remote agent sends.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzBytes, type Rng } from "./_fuzz.ts";
import { HoopError } from "./errors.ts";
import {
  helloPacket,
  MAX_HELLO_TEXT_CHARS,
  MAX_PUBLISHED_CONFIG_CHARS,
  MAX_PUBLISHED_CONFIG_ENTRIES,
  parseHello,
  PUBLISHABLE_TYPES,
} from "./hello.ts";
import { decodePacket, encodePacket, makePacket, PacketDecodeError, PacketType } from "./packet.ts";

// C0, DEL and C1 controls: what a terminal or a log line must never get raw.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const base = { version: "1.2.3", hostname: "db-1", platform: "linux/amd64", protocol: 1 };
const HELLOS = [
  helloPacket(base),
  helloPacket({
    ...base,
    connection: { name: "pg", type: "postgres", config: { host: "127.0.0.1", port: "5432" } },
  }),
  helloPacket({ ...base, connection: { name: "sh", type: "command", config: {} } }),
  helloPacket({ ...base, protocol: 2 }),
  makePacket(PacketType.HELLO, { protocol: "1" }, { connection: { name: 1, config: [] } }),
].map(encodePacket);

const ODD_TEXT = ["", "1", "01", "1.0", " 1", "é", "\u001b]0;owned\u0007", "a\nb", "x".repeat(300)];
const ODD_JSON: unknown[] = [
  null,
  [],
  "text",
  { connection: null },
  { connection: { name: "pg", type: "postgres", config: null } },
  { connection: { name: "pg", type: "mysql" } },
  { connection: { name: "\u001b[2J", type: "tcp", config: { "a\nb": "c\rd" } } },
  { connection: { name: "pg", type: "tcp", config: { k: 1 } } },
  {
    connection: {
      name: "pg",
      type: "command",
      config: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, "v"])),
    },
  },
  { connection: { name: "pg", type: "tcp", config: { __proto__: "x", long: "y".repeat(5000) } } },
];

/** A HELLO whose spec and payload are valid protobuf but odd in content. */
function randomHello(rng: Rng): Uint8Array {
  const spec: Record<string, string> = {};
  for (const k of ["version", "hostname", "platform", "protocol"]) {
    if (rng.chance(0.9)) spec[k] = k === "protocol" && rng.chance(0.6) ? "1" : rng.pick(ODD_TEXT);
  }
  const payload = rng.chance(0.2) ? rng.bytes(rng.int(32)) : rng.pick(ODD_JSON);
  return encodePacket(makePacket(PacketType.HELLO, spec, payload));
}

Deno.test("parseHello() fuzzed: printable, bounded text or a HoopError", async () => {
  await fuzzBytes({
    name: "parseHello",
    seeds: HELLOS,
    random: randomHello,
    expected: (err) => err instanceof HoopError || err instanceof PacketDecodeError,
    run(input) {
      const h = parseHello(decodePacket(input));
      assert.equal(h.protocol, 1);
      for (const text of [h.version, h.hostname, h.platform]) {
        assert.ok(text.length <= MAX_HELLO_TEXT_CHARS + 1, `"${text}" is too long`);
        assert.ok(!CONTROL.test(text), `${JSON.stringify(text)} holds a control character`);
      }
      if (h.connection) {
        assert.equal(typeof h.connection.name, "string");
        assert.ok(PUBLISHABLE_TYPES.includes(h.connection.type));
        const entries = Object.entries(h.connection.config);
        assert.ok(entries.length <= MAX_PUBLISHED_CONFIG_ENTRIES);
        for (const [k, v] of entries) {
          assert.ok(!CONTROL.test(k) && !CONTROL.test(v));
          assert.ok(v.length <= MAX_PUBLISHED_CONFIG_CHARS + 1);
        }
      }
    },
  });
});

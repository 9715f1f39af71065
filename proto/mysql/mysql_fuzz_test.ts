/**
 * Fuzz tests of the MySQL decoders a peer reaches: the packet reader (split
 * packets, absurd lengths), the greeting, the client's handshake response,
 * ERR, auth switch, `COM_STMT_PREPARE_OK` and `COM_STMT_EXECUTE`. Each either
 * returns a well-formed value or throws {@linkcode MysqlProtocolError}.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzBytes, fuzzConn } from "../_fuzz.ts";
import {
  BodyWriter,
  Capability,
  encodeErr,
  encodeGreeting,
  encodeHandshakeResponse,
  encodePacket,
  FieldType,
  MysqlProtocolError,
  PacketReader,
  parseAuthSwitch,
  parseErr,
  parseGreeting,
  parseHandshakeResponse,
  parsePrepareOk,
  parseStmtExecute,
} from "./mod.ts";

const typed = (err: unknown) => err instanceof MysqlProtocolError;
const enc = new TextEncoder();

const GREETING = encodeGreeting({
  protocol: 10,
  serverVersion: "10.11.6-MariaDB",
  connectionId: 42,
  scramble: new Uint8Array(20).fill(7),
  capabilities: 0xf7fe | Capability.PROTOCOL_41 | Capability.PLUGIN_AUTH,
  mariadbCapabilities: 0,
  charset: 45,
  status: 2,
  authPlugin: "mysql_native_password",
});

const RESPONSE = encodeHandshakeResponse({
  capabilities: 0x000fa685,
  maxPacket: 1 << 24,
  charset: 45,
  mariadbCapabilities: 0,
  sslRequest: false,
  user: "nobody",
  authResponse: new Uint8Array(20).fill(1),
  database: "app",
  authPlugin: "mysql_native_password",
});

Deno.test("PacketReader fuzzed: whole messages within the limit or a MysqlProtocolError", async () => {
  const big = new Uint8Array(0xffffff + 10);
  await fuzzBytes({
    name: "mysql PacketReader",
    seeds: [
      encodePacket(0, GREETING),
      new Uint8Array([
        ...encodePacket(1, RESPONSE),
        ...encodePacket(0, enc.encode("\x03select 1")),
      ]),
      // A split message: a full 16 MiB - 1 packet and its continuation.
      encodePacket(0, big).subarray(0, 64),
    ],
    expected: typed,
    async run(input, rng) {
      const limit = 1 + rng.int(4096);
      const r = new PacketReader(fuzzConn(input, rng));
      for (;;) {
        const m = await r.next(limit);
        if (m === null) break;
        assert.ok(m.payload.length <= limit);
        assert.ok(m.seq >= 0 && m.seq < 256 && m.lastSeq >= 0 && m.lastSeq < 256);
      }
    },
  });
});

Deno.test("parseGreeting() fuzzed", async () => {
  await fuzzBytes({
    name: "mysql parseGreeting",
    seeds: [GREETING],
    expected: typed,
    run(input) {
      const g = parseGreeting(input);
      assert.equal(typeof g.serverVersion, "string");
      assert.ok(g.scramble instanceof Uint8Array);
      assert.equal(typeof g.authPlugin, "string");
      // What parses re-encodes to a greeting that parses the same.
      assert.deepEqual(parseGreeting(encodeGreeting(g)).connectionId, g.connectionId);
    },
  });
});

Deno.test("parseHandshakeResponse() fuzzed", async () => {
  await fuzzBytes({
    name: "mysql parseHandshakeResponse",
    seeds: [RESPONSE, RESPONSE.subarray(0, 32)],
    expected: typed,
    run(input) {
      const h = parseHandshakeResponse(input);
      assert.equal(typeof h.user, "string");
      assert.ok(h.authResponse instanceof Uint8Array);
      assert.ok(h.authResponse.length <= input.length);
    },
  });
});

Deno.test("parseErr(), parseAuthSwitch(), parsePrepareOk() fuzzed", async () => {
  await fuzzBytes({
    name: "mysql parseErr",
    seeds: [encodeErr({ code: 1045, sqlstate: "28000", message: "Access denied" })],
    expected: typed,
    run(input) {
      const e = parseErr(input);
      assert.ok(e.code >= 0 && e.code < 65536);
      assert.equal(e.sqlstate.length, 5);
    },
  });
  await fuzzBytes({
    name: "mysql parseAuthSwitch",
    seeds: [new Uint8Array([0xfe, ...enc.encode("client_ed25519"), 0, 1, 2, 3, 0])],
    expected: typed,
    run(input) {
      const a = parseAuthSwitch(input);
      assert.equal(typeof a.plugin, "string");
      assert.ok(a.data.length <= input.length);
    },
  });
  await fuzzBytes({
    name: "mysql parsePrepareOk",
    seeds: [new Uint8Array([0, 1, 0, 0, 0, 2, 0, 3, 0, 0, 0, 0])],
    expected: typed,
    run(input) {
      const p = parsePrepareOk(input);
      if (p) assert.ok(p.params >= 0 && p.params < 65536);
    },
  });
});

Deno.test("parseStmtExecute() fuzzed: one text value per parameter or a MysqlProtocolError", async () => {
  const exec = new BodyWriter().u8(0x17).u32(1).u8(0).u32(1).u8(0b10).u8(1)
    .u8(FieldType.LONGLONG).u8(0).u8(FieldType.VAR_STRING).u8(0).u8(FieldType.DATETIME).u8(0)
    .bytes(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]))
    .u8(7).bytes(new Uint8Array([0xe8, 7, 5, 6, 7, 8, 9]))
    .finish();
  await fuzzBytes({
    name: "mysql parseStmtExecute",
    seeds: [exec],
    expected: typed,
    run(input) {
      const count = input.length % 5;
      const s = parseStmtExecute(input, count, Array(count).fill(FieldType.VAR_STRING));
      assert.equal(s.values.length, count);
      for (const v of s.values) assert.equal(typeof v, "string");
    },
  });
});

import assert from "node:assert/strict";
import { concatBytes } from "../../proto/bytes.ts";
import { BodyWriter, encodePacket, FieldType, MAX_PACKET_PAYLOAD } from "../../proto/mysql/mod.ts";
import {
  MAX_MYSQL_TAP_SQL_BYTES,
  MYSQL_TRUNCATION_MARKER,
  MysqlStatementTap,
  type MysqlTappedStatement,
} from "./statement_tap.ts";

const enc = new TextEncoder();
const command = (byte: number, text: string) =>
  concatBytes([Uint8Array.of(byte), enc.encode(text)]);
const prepareOk = (id: number, params: number) =>
  new BodyWriter().u8(0).u32(id).u16(0).u16(params).u8(0).u16(0).finish();

function execute(id: number, values: [number, Uint8Array][]): Uint8Array {
  const w = new BodyWriter().u8(0x17).u32(id).u8(0).u32(1).u8(0).u8(1);
  for (const [type] of values) w.u8(type).u8(0);
  for (const [, v] of values) w.bytes(v);
  return w.finish();
}

/** Feed `bytes` in pieces of `size` bytes, as a relay's reads would cut them. */
function feed(push: (b: Uint8Array) => void, bytes: Uint8Array, size: number) {
  for (let i = 0; i < bytes.length; i += size) push(bytes.subarray(i, i + size));
}

Deno.test("MysqlStatementTap: queries and executions with parameters, whatever the read sizes", () => {
  for (const size of [1, 3, 17, 4096]) {
    const seen: MysqlTappedStatement[] = [];
    const tap = new MysqlStatementTap((s) => seen.push(s));
    // The login (sequence id 1) holds the client's password hash: never looked at.
    feed((b) => tap.pushClient(b), encodePacket(1, command(0x03, "not a command")), size);
    feed((b) => tap.pushClient(b), encodePacket(0, command(0x03, "SELECT 1")), size);
    feed((b) => tap.pushClient(b), encodePacket(0, command(0x16, "SELECT ? + ?")), size);
    feed((b) => tap.pushServer(b), encodePacket(1, prepareOk(7, 2)), size);
    const int = new BodyWriter().u32(41).finish();
    const text = new BodyWriter().lenencString("pen").finish();
    feed(
      (b) => tap.pushClient(b),
      encodePacket(0, execute(7, [[FieldType.LONG, int], [FieldType.VAR_STRING, text]])),
      size,
    );
    feed((b) => tap.pushClient(b), encodePacket(0, command(0x02, "app")), size);
    assert.deepEqual(seen, [
      { kind: "query", sql: "SELECT 1" },
      { kind: "execute", sql: "SELECT ? + ?", params: ["41", "pen"] },
      { kind: "query", sql: "USE `app`" },
    ], `reads of ${size} bytes`);
  }
});

Deno.test("MysqlStatementTap: a query split at 16 MiB is recorded once, cut at the cap", () => {
  const seen: MysqlTappedStatement[] = [];
  const tap = new MysqlStatementTap((s) => seen.push(s));
  const sql = "SELECT '" + "x".repeat(MAX_PACKET_PAYLOAD + 10) + "'";
  feed((b) => tap.pushClient(b), encodePacket(0, command(0x03, sql)), 1 << 20);
  feed((b) => tap.pushClient(b), encodePacket(0, command(0x03, "SELECT 2")), 1 << 20);
  assert.equal(seen.length, 2);
  assert.ok(seen[0].sql.endsWith(MYSQL_TRUNCATION_MARKER));
  assert.equal(seen[0].sql.length, MAX_MYSQL_TAP_SQL_BYTES + MYSQL_TRUNCATION_MARKER.length);
  assert.equal(seen[1].sql, "SELECT 2");
});

Deno.test("MysqlStatementTap: an execution of an unknown statement says so", () => {
  const seen: MysqlTappedStatement[] = [];
  const tap = new MysqlStatementTap((s) => seen.push(s));
  tap.pushClient(encodePacket(0, execute(9, [])));
  assert.deepEqual(seen, [{ kind: "execute", sql: "-- prepared statement 9, not seen prepared" }]);
});

Deno.test("MysqlStatementTap: a parameter sent as long data is named, the others decoded", () => {
  const seen: MysqlTappedStatement[] = [];
  const tap = new MysqlStatementTap((s) => seen.push(s));
  tap.pushClient(encodePacket(0, command(0x16, "INSERT INTO t VALUES (?, ?)")));
  tap.pushServer(encodePacket(1, prepareOk(3, 2)));
  const longData = new BodyWriter().u8(0x18).u32(3).u16(0).bytes(enc.encode("big")).finish();
  tap.pushClient(encodePacket(0, longData));
  const int = new BodyWriter().u32(5).finish();
  tap.pushClient(
    encodePacket(
      0,
      execute(3, [[FieldType.BLOB, new Uint8Array(0)], [FieldType.LONG, int]]).subarray(0),
    ),
  );
  assert.deepEqual(seen, [
    { kind: "execute", sql: "INSERT INTO t VALUES (?, ?)", params: ["[long data]", "5"] },
  ]);
});

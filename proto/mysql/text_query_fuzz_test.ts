/**
 * Fuzz tests of what `hoop exec` decodes from a MySQL server: column
 * definitions, text rows, OK packets, and a whole answer stream read by
 * {@linkcode mysqlTextQuery}. Each returns well-formed results or throws
 * {@linkcode MysqlProtocolError} (or {@linkcode MysqlQueryError} for an ERR).
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
  encodeOk,
  encodePacket,
  FieldType,
  MysqlProtocolError,
  MysqlQueryError,
  mysqlTextQuery,
  parseColumnDefinition,
  parseOk,
  parseTextRow,
} from "./mod.ts";

const typed = (err: unknown) => err instanceof MysqlProtocolError || err instanceof MysqlQueryError;

function column(name: string, type: number): Uint8Array {
  const w = new BodyWriter();
  for (const s of ["def", "app", "t", "t", name, name]) w.lenencString(s);
  return w.lenenc(12).u16(45).u32(11).u8(type).u16(0).u8(0).zeros(2).finish();
}

function row(values: (string | null)[]): Uint8Array {
  const w = new BodyWriter();
  for (const v of values) v === null ? w.u8(0xfb) : w.lenencString(v);
  return w.finish();
}

const EOF = Uint8Array.of(0xfe, 0, 0, 2, 0);

/** The agent's side of a login and one two-column result set, as packets. */
function answerStream(): Uint8Array {
  const parts = [
    encodePacket(
      0,
      encodeGreeting({
        protocol: 10,
        serverVersion: "10.11.6-MariaDB",
        connectionId: 9,
        scramble: new Uint8Array(20).fill(3),
        capabilities: Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION |
          Capability.PLUGIN_AUTH | Capability.MULTI_RESULTS,
        mariadbCapabilities: 0,
        charset: 45,
        status: 2,
        authPlugin: "mysql_native_password",
      }),
    ),
    encodePacket(2, encodeOk()),
    encodePacket(1, Uint8Array.of(2)),
    encodePacket(2, column("id", FieldType.LONG)),
    encodePacket(3, column("name", FieldType.VAR_STRING)),
    encodePacket(4, EOF),
    encodePacket(5, row(["1", "pen"])),
    encodePacket(6, row(["2", null])),
    encodePacket(7, EOF),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("parseColumnDefinition(), parseTextRow(), parseOk() fuzzed", async () => {
  await fuzzBytes({
    name: "mysql parseColumnDefinition",
    seeds: [column("id", FieldType.LONG), column("naïve", FieldType.JSON)],
    expected: typed,
    run(input) {
      const c = parseColumnDefinition(input);
      assert.equal(typeof c.name, "string");
      assert.ok(c.type >= 0 && c.type <= 255);
    },
  });
  await fuzzBytes({
    name: "mysql parseTextRow",
    seeds: [row(["1", null, "x".repeat(300)])],
    expected: typed,
    run(input) {
      const r = parseTextRow(input, 3);
      assert.equal(r.length, 3);
    },
  });
  await fuzzBytes({
    name: "mysql parseOk",
    seeds: [encodeOk(), Uint8Array.of(0, 0xfc, 0x10, 0x27, 0, 2, 0, 0, 0)],
    expected: typed,
    run(input) {
      const ok = parseOk(input);
      assert.ok(Number.isSafeInteger(ok.affected) && ok.affected >= 0);
    },
  });
});

Deno.test("mysqlTextQuery() fuzzed: results or a typed error, never a hang", async () => {
  await fuzzBytes({
    name: "mysql mysqlTextQuery",
    seeds: [
      answerStream(),
      (() => {
        const s = answerStream();
        const err = encodePacket(1, encodeErr({ code: 1146, sqlstate: "42S02", message: "nope" }));
        const cut = s.length - 5 * 7;
        const out = new Uint8Array(cut + err.length);
        out.set(s.subarray(0, cut));
        out.set(err, cut);
        return out;
      })(),
    ],
    expected: typed,
    async run(input, rng) {
      const conn = fuzzConn(input, rng) as unknown as Deno.Conn;
      const results = await mysqlTextQuery(conn, "SELECT 1");
      for (const r of results) {
        for (const values of r.rows) assert.equal(values.length, r.columns.length);
      }
    },
  });
});

Deno.test("mysqlTextQuery() reads the seed stream as one result of two rows", async () => {
  const bytes = answerStream();
  let at = 0;
  const conn = {
    read(buf: Uint8Array) {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(buf.length, bytes.length - at, 7);
      buf.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
    write: (p: Uint8Array) => Promise.resolve(p.length),
  } as unknown as Deno.Conn;
  const [r] = await mysqlTextQuery(conn, "SELECT id, name FROM t");
  assert.deepEqual(r.columns.map((c) => c.name), ["id", "name"]);
  assert.deepEqual(r.rows, [["1", "pen"], ["2", null]]);
});

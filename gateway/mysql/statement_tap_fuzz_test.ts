/**
 * Fuzz test of {@linkcode MysqlStatementTap}: it reads the bytes a client and
 * a server relay, so whatever they are, in whatever chunks, it never throws
 * and every statement it reports is text within its limits.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzBytes } from "../../proto/_fuzz.ts";
import { BodyWriter, encodePacket, FieldType } from "../../proto/mysql/mod.ts";
import {
  MAX_MYSQL_TAP_SQL_BYTES,
  MYSQL_TRUNCATION_MARKER,
  MysqlStatementTap,
} from "./statement_tap.ts";

const enc = new TextEncoder();
const prepare = encodePacket(0, enc.encode("\x16select ? + ?"));
const prepareOk = encodePacket(1, new Uint8Array([0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0]));
const execute = encodePacket(
  0,
  new BodyWriter().u8(0x17).u32(1).u8(0).u32(1).u8(0).u8(1)
    .u8(FieldType.LONG).u8(0).u8(FieldType.VAR_STRING).u8(0)
    .bytes(new Uint8Array([5, 0, 0, 0, 2])).bytes(enc.encode("ab")).finish(),
);

Deno.test("MysqlStatementTap fuzzed: any bytes both ways, never a throw", async () => {
  await fuzzBytes({
    name: "MysqlStatementTap",
    seeds: [
      new Uint8Array([...encodePacket(0, enc.encode("\x03select 1")), ...prepare, ...execute]),
    ],
    expected: () => false,
    run(input, rng) {
      const tap = new MysqlStatementTap((s) => {
        assert.equal(typeof s.sql, "string");
        const limit = MAX_MYSQL_TAP_SQL_BYTES + MYSQL_TRUNCATION_MARKER.length;
        assert.ok(s.sql.length <= limit, `${s.sql.length} chars`);
      });
      let at = 0;
      let sentOk = false;
      while (at < input.length) {
        const n = 1 + rng.int(64);
        tap.pushClient(input.subarray(at, at + n));
        if (!sentOk && rng.int(3) === 0) {
          tap.pushServer(prepareOk);
          sentOk = true;
        } else tap.pushServer(input.subarray(at, at + rng.int(n)));
        at += n;
      }
    },
  });
});

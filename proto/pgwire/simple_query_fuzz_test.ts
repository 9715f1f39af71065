/**
 * Fuzz tests of {@linkcode simpleQuery}'s reading of server answers: `hoop
 * exec` on a postgres connection decodes whatever the far end sends.
 *
 * @module
 */
import assert from "node:assert/strict";
import { int16Bytes as i16, int32Bytes as i32 } from "./codec.ts";
import { concatBytes } from "../bytes.ts";
import { fuzzBytes, fuzzConn, Rng } from "../_fuzz.ts";
import { HoopError } from "../errors.ts";
import { encodeAuthenticationOk, encodeErrorResponse, encodeMessage } from "./codec.ts";
import { simpleQuery } from "./simple_query.ts";

const enc = new TextEncoder();

const z = (s: string) => enc.encode(`${s}\0`);
const login = concatBytes([
  encodeAuthenticationOk(),
  encodeMessage("S", concatBytes([z("server_version"), z("16.2")])),
  encodeMessage("K", concatBytes([i32(4242), i32(7)])),
  encodeMessage("Z", enc.encode("I")),
]);
const rowDescription = encodeMessage(
  "T",
  concatBytes([i16(2), z("id"), i32(0), i16(0), i32(23), i16(4), i32(-1), i16(0)]).slice(),
);
const fixedRowDescription = encodeMessage(
  "T",
  concatBytes([
    i16(2),
    z("id"),
    i32(0),
    i16(0),
    i32(23),
    i16(4),
    i32(-1),
    i16(0),
    z("name"),
    i32(0),
    i16(0),
    i32(25),
    i16(-1),
    i32(-1),
    i16(0),
  ]),
);
const row = encodeMessage("D", concatBytes([i16(2), i32(1), enc.encode("1"), i32(-1)]));
const ANSWERS = [
  concatBytes([
    login,
    fixedRowDescription,
    row,
    encodeMessage("C", z("SELECT 1")),
    encodeMessage("Z", enc.encode("I")),
  ]),
  concatBytes([
    login,
    encodeErrorResponse("ERROR", "42601", "syntax error"),
    encodeMessage("Z", enc.encode("I")),
  ]),
  concatBytes([
    login,
    encodeMessage("H", new Uint8Array(7)),
    encodeMessage("d", enc.encode("a\tb\n")),
    encodeMessage("c"),
    encodeMessage("C", z("COPY 1")),
    encodeMessage("I"),
    encodeMessage("Z", enc.encode("I")),
  ]),
  concatBytes([login, rowDescription]),
];

Deno.test("simpleQuery() fuzzed: results or a typed error for any server answer", async () => {
  await fuzzBytes({
    name: "simpleQuery",
    seeds: ANSWERS,
    expected: (err) => err instanceof HoopError || err instanceof Deno.errors.UnexpectedEof,
    async run(input, rng) {
      const conn = fuzzConn(input, rng);
      const results = await simpleQuery(conn as unknown as Deno.Conn, "select 1");
      for (const r of results) {
        assert.ok(Array.isArray(r.columns) && Array.isArray(r.rows));
        assert.equal(typeof r.command, "string");
      }
    },
  });
});

Deno.test("simpleQuery() refuses a RowDescription shorter than its column count (fuzz finding)", async () => {
  const short = encodeMessage("T", concatBytes([i16(2), z("id")]));
  const conn = fuzzConn(concatBytes([login, short]), new Rng(1));
  await assert.rejects(simpleQuery(conn as unknown as Deno.Conn, "select 1"), (err) => {
    assert.ok(err instanceof HoopError);
    assert.equal(err.message, "Cannot run query: the server sent a malformed message");
    return true;
  });
});

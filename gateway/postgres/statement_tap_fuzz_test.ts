/**
 * Fuzz tests of {@linkcode StatementTap}: it sits on the relay's hot path and
 * is documented never to throw, so any mutated client stream must pass
 * through it, split anywhere, with the same statements however it is split.
 *
 * @module
 */
import assert from "node:assert/strict";
import { int16Bytes as i16, int32Bytes as i32 } from "../../proto/pgwire/codec.ts";
import { concatBytes } from "../../proto/bytes.ts";
import { fuzzBytes, type Rng } from "../../proto/_fuzz.ts";
import {
  encodeMessage,
  encodePasswordMessage,
  encodeQuery,
  encodeSslRequest,
  encodeStartup,
  encodeTerminate,
} from "../../proto/pgwire/mod.ts";
import {
  MAX_TAP_BIND_BYTES,
  MAX_TAP_SQL_BYTES,
  StatementTap,
  type TappedStatement,
} from "./statement_tap.ts";

const enc = new TextEncoder();
const z = (s: string) => enc.encode(`${s}\0`);

const parse = (name: string, sql: string) =>
  encodeMessage("P", concatBytes([z(name), z(sql), i16(1), i32(23)]));
const bind = (stmt: string, params: (string | null)[], formats: number[] = []) =>
  encodeMessage(
    "B",
    concatBytes([
      z(""),
      z(stmt),
      i16(formats.length),
      ...formats.map(i16),
      i16(params.length),
      ...params.flatMap((p) => p === null ? [i32(-1)] : [i32(enc.encode(p).length), enc.encode(p)]),
      i16(0),
    ]),
  );

const typed = concatBytes([
  encodePasswordMessage("secret"),
  encodeQuery("select 1; select 'é'"),
  parse("s1", "select $1::int"),
  bind("s1", ["42"]),
  bind("s1", [null], [1]),
  bind("gone", ["a", "b"], [0, 1]),
  encodeMessage("E", concatBytes([z(""), i32(0)])),
  encodeMessage("S"),
  encodeMessage("C", concatBytes([enc.encode("S"), z("s1")])),
  encodeTerminate(),
]);
const STREAMS = [
  concatBytes([encodeStartup({ user: "alice", database: "app" }), typed]),
  concatBytes([encodeSslRequest(), encodeStartup({ user: "bob" }), typed]),
  concatBytes([encodeStartup({ user: "c" }), parse("", "select 2"), bind("", [])]),
];

const INT16_EDGES = [0, 1, 2, -1, -32768, 32767];
const INT32_EDGES = [0, 1, -1, 3, 4, 0x7fffffff, -0x80000000];

/** A client stream built from messages the tap decodes, their counts and lengths at the edges. */
function randomSession(rng: Rng): Uint8Array {
  const text = () => rng.pick(["", "s1", "select 1", "é", "x".repeat(rng.int(300))]);
  const parts: Uint8Array[] = [encodeStartup({ user: "fuzz" })];
  for (let n = 1 + rng.int(8); n > 0; n--) {
    switch (rng.int(5)) {
      case 0:
        parts.push(encodeQuery(text()));
        break;
      case 1:
        parts.push(parse(rng.pick(["", "s1", "s2"]), text()));
        break;
      case 2: {
        const fields = [z(""), z(rng.pick(["", "s1", "s2"])), i16(rng.pick(INT16_EDGES))];
        for (let k = rng.int(4); k > 0; k--) fields.push(i16(rng.pick([0, 1, -1])));
        fields.push(i16(rng.pick(INT16_EDGES)));
        for (let k = rng.int(4); k > 0; k--) {
          const v = enc.encode(text());
          fields.push(i32(rng.chance(0.3) ? rng.pick(INT32_EDGES) : v.length), v);
        }
        parts.push(encodeMessage("B", concatBytes(fields)));
        break;
      }
      case 3:
        parts.push(encodeMessage("C", concatBytes([enc.encode(rng.pick(["S", "P"])), z("s1")])));
        break;
      default:
        parts.push(encodeMessage(String.fromCharCode(rng.int(128)), rng.bytes(rng.int(16))));
    }
  }
  return concatBytes(parts);
}

/** Room for the truncation marker and the byte count after a cut SQL text. */
const MARKER_ROOM_CHARS = 64;

function tap(input: Uint8Array, split: (rng: Rng) => number, rng: Rng, startup: boolean) {
  const seen: TappedStatement[] = [];
  const t = new StatementTap((s) => seen.push(s), { startup });
  for (let off = 0; off < input.length;) {
    const n = Math.min(input.length - off, split(rng));
    t.push(input.subarray(off, off + n));
    off += n;
  }
  return { seen, off: t.off };
}

Deno.test("StatementTap.push() fuzzed: never throws, and the split does not change what it sees", async () => {
  await fuzzBytes({
    name: "StatementTap",
    seeds: [...STREAMS, typed],
    random: randomSession,
    // The tap is documented never to throw: every error is a finding.
    expected: () => false,
    run(input, rng) {
      const startup = rng.chance(0.8);
      const whole = tap(input, () => input.length, rng, startup);
      const pieces = tap(input, (r) => 1 + r.int(rng.chance(0.5) ? 3 : 64), rng, startup);
      assert.deepEqual(pieces, whole, "the statements depend on how the stream was split");
      for (const s of whole.seen) {
        assert.ok(s.kind === "query" || s.kind === "parse");
        assert.equal(typeof s.sql, "string");
        if (s.kind === "query") assert.ok(s.sql.length <= MAX_TAP_SQL_BYTES + MARKER_ROOM_CHARS);
        if (s.params) {
          assert.ok(s.params.length <= MAX_TAP_BIND_BYTES);
          for (const p of s.params) assert.equal(typeof p, "string");
        }
      }
    },
  });
});

Deno.test("StatementTap.push() survives a Bind with a negative format count (fuzz finding)", () => {
  const seen: TappedStatement[] = [];
  const t = new StatementTap((s) => seen.push(s), { startup: false });
  const body = concatBytes([z(""), z("s1"), i16(-32768), i16(0), i16(0)]);
  t.push(concatBytes([parse("s1", "select 1"), encodeMessage("B", body), encodeQuery("select 2")]));
  assert.equal(t.off, undefined);
  assert.deepEqual(seen.map((s) => s.sql), ["select 1", "select 2"]);
});

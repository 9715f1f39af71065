import assert from "node:assert/strict";
import { int16Bytes as i16, int32Bytes as i32 } from "../../proto/pgwire/codec.ts";
import { concatBytes } from "../../proto/bytes.ts";
import {
  encodeMessage,
  encodeQuery,
  encodeSslRequest,
  encodeStartup,
  encodeTerminate,
} from "../../proto/pgwire/mod.ts";
import { splice } from "../../proto/splice.ts";
import { POSTGRES_SKIP_REASON, startPostgres } from "../../tests/_postgres.ts";
import {
  MAX_TAP_SQL_BYTES,
  StatementTap,
  type TappedStatement,
  TRUNCATION_MARKER,
} from "./statement_tap.ts";

const enc = new TextEncoder();

function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

function cstr(s: string): Uint8Array {
  return concat(enc.encode(s), new Uint8Array(1));
}
function parseMsg(name: string, sql: string): Uint8Array {
  return encodeMessage("P", concat(cstr(name), cstr(sql), i16(0)));
}
/** Bind with per-parameter formats; `null` is an SQL NULL. */
function bindMsg(stmt: string, params: (string | null)[], formats: number[] = []): Uint8Array {
  const parts = [
    cstr(""),
    cstr(stmt),
    i16(formats.length),
    ...formats.map(i16),
    i16(params.length),
  ];
  for (const p of params) {
    if (p === null) parts.push(i32(-1));
    else {
      const b = enc.encode(p);
      parts.push(i32(b.length), b);
    }
  }
  parts.push(i16(0));
  return encodeMessage("B", concat(...parts));
}
const SYNC = encodeMessage("S");
const EXECUTE = encodeMessage("E", concat(cstr(""), i32(0)));

/** Feed `stream` to a fresh tap in chunks of the sizes `sizes` cycles through. */
function tapAll(stream: Uint8Array, sizes: number[], startup = true): TappedStatement[] {
  const out: TappedStatement[] = [];
  const tap = new StatementTap((s) => out.push(s), { startup });
  let off = 0;
  for (let i = 0; off < stream.length; i++) {
    const n = sizes[i % sizes.length];
    tap.push(stream.subarray(off, off + n));
    off += n;
  }
  return out;
}

/** Deterministic pseudo-random chunk sizes in 1..max. */
function randomSizes(seed: number, count: number, max: number): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out.push(1 + (x % max));
  }
  return out;
}

Deno.test("StatementTap reports simple queries after SSLRequest and startup, however split", () => {
  const stream = concat(
    encodeSslRequest(),
    encodeStartup({ user: "u", database: "d" }),
    encodeMessage("p", cstr("secret-password")),
    encodeQuery("select 1"),
    encodeQuery("select 'ü'"),
    encodeTerminate(),
  );
  const want = [{ kind: "query", sql: "select 1" }, { kind: "query", sql: "select 'ü'" }];
  for (const sizes of [[stream.length], [1], [2, 3, 5], randomSizes(7, 50, 9)]) {
    assert.deepEqual(tapAll(stream, sizes), want, `chunks ${sizes.slice(0, 4)}`);
  }
});

Deno.test("StatementTap never reports password messages", () => {
  const stream = concat(
    encodeStartup({ user: "u" }),
    encodeMessage("p", cstr("select 'secret'")),
    encodeQuery("select 2"),
  );
  const got = tapAll(stream, [3]);
  assert.deepEqual(got.map((s) => s.sql), ["select 2"]);
});

Deno.test("StatementTap reports each Bind of a parsed statement with its text parameters", () => {
  // A Parse never bound (the last one) executes nothing and is not reported.
  const stream = concat(
    parseMsg("", "select $1::int, $2, $3, $4"),
    bindMsg("", ["42", null, "\x00\x01", "tail"], [0, 0, 1, 0]),
    EXECUTE,
    SYNC,
    parseMsg("s1", "update t set a = $1"),
    SYNC,
    bindMsg("s1", ["1"]),
    EXECUTE,
    bindMsg("s1", ["2"]),
    EXECUTE,
    SYNC,
    parseMsg("", "select never_bound()"),
    SYNC,
  );
  const want: TappedStatement[] = [
    {
      kind: "parse",
      sql: "select $1::int, $2, $3, $4",
      params: ["42", "NULL", "[binary 2 bytes]", "tail"],
    },
    { kind: "parse", sql: "update t set a = $1", params: ["1"] },
    { kind: "parse", sql: "update t set a = $1", params: ["2"] },
  ];
  for (const sizes of [[stream.length], [1], randomSizes(3, 40, 11)]) {
    assert.deepEqual(tapAll(stream, sizes, false), want);
  }
});

Deno.test("StatementTap cuts SQL at 64 KiB with a truncation marker", () => {
  const long = "select '" + "a".repeat(MAX_TAP_SQL_BYTES + 1000) + "'";
  const got = tapAll(concat(encodeQuery(long), encodeQuery("select 3")), [4096], false);
  assert.equal(got.length, 2);
  assert.ok(got[0].sql.startsWith("select 'aaa"));
  assert.ok(got[0].sql.includes(TRUNCATION_MARKER));
  assert.ok(got[0].sql.length < MAX_TAP_SQL_BYTES + 100);
  assert.equal(got[1].sql, "select 3");
});

Deno.test("StatementTap turns itself off on a stream that is not PostgreSQL", () => {
  const out: TappedStatement[] = [];
  const tap = new StatementTap((s) => out.push(s));
  tap.push(concat(encodeSslRequest(), new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])));
  tap.push(encodeQuery("select 1"));
  assert.deepEqual(out, []);
  assert.match(tap.off ?? "", /TLS or not PostgreSQL/);
});

Deno.test("StatementTap ignores a throwing callback", () => {
  const tap = new StatementTap(() => {
    throw new Error("recorder down");
  }, { startup: false });
  tap.push(encodeQuery("select 1"));
  assert.equal(tap.off, undefined);
});

/** A relay to `port` that records the client → server bytes. */
function captureRelay(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const streams: Uint8Array[][] = [];
  const done: Promise<unknown>[] = [];
  (async () => {
    for await (const client of listener) {
      const chunks: Uint8Array[] = [];
      streams.push(chunks);
      done.push((async () => {
        const server = await Deno.connect({ hostname: "127.0.0.1", port });
        await splice(client, server, {
          observer: { onData: (dir, c) => dir === "a2b" && chunks.push(c.slice()) },
        });
      })());
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    streams: () => streams.map((c) => concat(...c)),
    async close() {
      listener.close();
      await Promise.all(done);
    },
  };
}

async function run(cmd: string, args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "StatementTap reads real psql and pgbench traffic",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    await using pg = await startPostgres();
    const url = new URL(pg.adminUrl);
    const relay = captureRelay(pg.port);
    const env = {
      PGHOST: "127.0.0.1",
      PGPORT: String(relay.port),
      PGUSER: decodeURIComponent(url.username),
      PGPASSWORD: decodeURIComponent(url.password),
      PGDATABASE: "postgres",
    };
    const script = await Deno.makeTempFile({ suffix: ".sql" });
    try {
      await t.step("capture psql (SSLRequest, SCRAM, queries)", async () => {
        const r = await run("psql", ["-X", "-c", "select 1 as one", "-c", "select $$it's$$"], env);
        assert.equal(r.code, 0, r.stderr);
      });
      await t.step("capture pgbench in extended and prepared modes", async () => {
        await Deno.writeTextFile(script, "\\set aid random(1, 100)\nselect :aid::int + 1 as n;\n");
        for (const mode of ["extended", "prepared"]) {
          const r = await run("pgbench", ["-n", "-M", mode, "-t", "5", "-f", script], env);
          assert.equal(r.code, 0, r.stderr);
        }
      });
      await relay.close();
      // pgbench opens a first connection it closes at once; keep those that ran the script.
      const all = relay.streams();
      const psqlStream = all[0];
      const [extStream, prepStream] = all.filter((s) =>
        new TextDecoder().decode(s).includes("$1::int")
      );

      await t.step("psql: the queries, whatever the chunking", () => {
        const want = [
          { kind: "query", sql: "select 1 as one" },
          { kind: "query", sql: "select $$it's$$" },
        ];
        assert.deepEqual(tapAll(psqlStream, [psqlStream.length]), want);
        assert.deepEqual(tapAll(psqlStream, [1]), want);
        assert.deepEqual(tapAll(psqlStream, randomSizes(11, 64, 13)), want);
      });

      for (const [name, stream] of [["extended", extStream], ["prepared", prepStream]] as const) {
        await t.step(`pgbench -M ${name}: five executions with their parameter`, () => {
          for (const sizes of [[stream.length], [1], randomSizes(5, 64, 17)]) {
            const got = tapAll(stream, sizes);
            assert.equal(got.length, 5, JSON.stringify(got));
            for (const s of got) {
              assert.equal(s.kind, "parse");
              assert.equal(s.sql, "select $1::int + 1 as n;");
              assert.equal(s.params?.length, 1);
              assert.match(s.params![0], /^\d+$/);
            }
          }
        });
      }
    } finally {
      await Deno.remove(script);
    }
  },
});

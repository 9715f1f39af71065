import assert from "node:assert/strict";
import { type QueryResult, simpleQuery } from "../proto/pgwire/mod.ts";
import { POSTGRES_SKIP_REASON, psqlThrough, startPostgres } from "../tests/_postgres.ts";
import { jsonValue, renderAligned, renderCsv, renderJson } from "./pg_client.ts";

if (POSTGRES_SKIP_REASON) console.warn(`PostgreSQL tests ignored: ${POSTGRES_SKIP_REASON}`);

const RESULTS: QueryResult[] = [
  {
    columns: ["id", "name"],
    rows: [["1", "alice"], ["10", null], ["2", 'say "hi", bye']],
    command: "SELECT 3",
    types: [23, 25],
  },
  { columns: [], rows: [], command: "INSERT 0 1" },
];

Deno.test("renderAligned() draws a psql-like table with a row count", () => {
  assert.equal(
    renderAligned(RESULTS),
    [
      " id |     name      ",
      "----+---------------",
      "  1 | alice",
      " 10 | ",
      '  2 | say "hi", bye',
      "(3 rows)",
      "",
      "INSERT 0 1",
      "",
    ].join("\n"),
  );
});

Deno.test("renderCsv() quotes what needs quoting and leaves NULL empty", () => {
  assert.equal(renderCsv(RESULTS), 'id,name\n1,alice\n10,\n2,"say ""hi"", bye"\n');
});

Deno.test("renderJson() prints an array of row objects per statement", () => {
  assert.deepEqual(JSON.parse(renderJson(RESULTS.slice(0, 1))), [
    { id: 1, name: "alice" },
    { id: 10, name: null },
    { id: 2, name: 'say "hi", bye' },
  ]);
  assert.equal(renderJson([RESULTS[1]]), "");
});

Deno.test("jsonValue() types numbers, booleans and json, and keeps inexact numbers as text", () => {
  assert.equal(jsonValue("-32768", 21), -32768);
  assert.equal(jsonValue("9007199254740991", 20), 9007199254740991);
  assert.equal(jsonValue("9223372036854775807", 20), "9223372036854775807");
  assert.equal(jsonValue("1.50", 1700), 1.5);
  assert.equal(jsonValue("12345678901234567.89", 1700), "12345678901234567.89");
  assert.equal(jsonValue("NaN", 1700), "NaN");
  assert.equal(jsonValue("1.5e+300", 701), 1.5e300);
  assert.equal(jsonValue("-Infinity", 701), "-Infinity");
  assert.equal(jsonValue("t", 16), true);
  assert.equal(jsonValue("f", 16), false);
  assert.deepEqual(jsonValue('{"a": [1, null]}', 3802), { a: [1, null] });
  assert.equal(jsonValue('"s"', 114), "s");
  assert.equal(jsonValue("2026-01-01", 1082), "2026-01-01");
  assert.equal(jsonValue(null, 23), null);
  assert.equal(jsonValue("7", undefined), "7");
});

/** Real psql against a `trust` server as "app", the rows' reference rendering. */
async function psql(port: number, args: string[], sql: string): Promise<string> {
  const r = await psqlThrough(port, sql, { args, user: "app", database: "app" });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test({
  name: "renderAligned() and renderCsv() print simpleQuery() results as psql does",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    // trust: simpleQuery logs in the way it does through the agent, with no password asked.
    await using pg = await startPostgres({ auth: "trust" });
    await pg.createUser("app", "pw");
    const query = async (sql: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: pg.port });
      try {
        return await simpleQuery(conn, sql, { user: "app", database: "app" });
      } finally {
        conn.close();
      }
    };
    await query("create table t (id int, name text); insert into t values (1, 'a'), (2, null)");

    const sql = "select id, name, id * 1000 as big, 'multi\nline' as m, now() is not null as ok " +
      "from t order by id";
    await t.step("renderAligned() matches psql's aligned output", async () => {
      assert.equal(renderAligned(await query(sql)), await psql(pg.port, [], sql));
    });

    await t.step("renderCsv() matches psql --csv", async () => {
      const tricky = `select 'a,b' as "x,y", '' as empty, null as nul, 'q"q' as q, ' pad' as p`;
      assert.equal(renderCsv(await query(tricky)), await psql(pg.port, ["--csv"], tricky));
      assert.equal(renderCsv(await query(sql)), await psql(pg.port, ["--csv"], sql));
    });
  },
});

import assert from "node:assert/strict";
import { Logger } from "../proto/log.ts";
import { splice } from "../proto/splice.ts";
import { POSTGRES_SKIP_REASON, psqlThrough, startPostgres } from "../tests/_postgres.ts";
import { servePostgres } from "../agent/postgres_proxy.ts";
import {
  PgQueryError,
  type QueryResult,
  renderAligned,
  renderCsv,
  renderJson,
  simpleQuery,
} from "./pg_client.ts";

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
    { id: "1", name: "alice" },
    { id: "10", name: null },
    { id: "2", name: 'say "hi", bye' },
  ]);
  assert.equal(renderJson([RESULTS[1]]), "");
});

/** A relay serving every accepted connection with servePostgres(uri), as the agent does. */
function startRelay(uri: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const log = new Logger({}, { sink: { write: () => {} } });
  const sessions: Promise<void>[] = [];
  const accepting = (async () => {
    try {
      for await (const c of listener) {
        sessions.push(servePostgres(c, uri, { log, splice }).catch(() => {}));
      }
    } catch {
      // Listener closed.
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      await Promise.all(sessions);
    },
  };
}

async function psql(port: number, args: string[], sql: string): Promise<string> {
  const r = await psqlThrough(port, sql, { args, env: { PGPASSWORD: "any" } });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test({
  name: "simpleQuery() runs SQL through the agent and renders like psql",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    await using pg = await startPostgres();
    await using relay = startRelay(await pg.createUser("app", "pw"));
    const query = async (sql: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
      try {
        return await simpleQuery(conn, sql);
      } finally {
        conn.close();
      }
    };

    await t.step("several statements, each with its result", async () => {
      const results = await query(
        "create table t (id int, name text); insert into t values (1, 'a'), (2, null); " +
          "select current_user as who, count(*) from t",
      );
      assert.deepEqual(results.map((r) => r.command), ["CREATE TABLE", "INSERT 0 2", "SELECT 1"]);
      assert.deepEqual(results[2].columns, ["who", "count"]);
      assert.deepEqual(results[2].rows, [["app", "2"]]);
    });

    const sql = "select id, name, id * 1000 as big, 'multi\nline' as m, now() is not null as ok " +
      "from t order by id";
    await t.step("renderAligned() matches psql's aligned output", async () => {
      assert.equal(renderAligned(await query(sql)), await psql(relay.port, [], sql));
    });

    await t.step("renderCsv() matches psql --csv", async () => {
      const tricky = `select 'a,b' as "x,y", '' as empty, null as nul, 'q"q' as q, ' pad' as p`;
      assert.equal(renderCsv(await query(tricky)), await psql(relay.port, ["--csv"], tricky));
      assert.equal(renderCsv(await query(sql)), await psql(relay.port, ["--csv"], sql));
    });

    await t.step("a server error becomes a PgQueryError with the server's message", async () => {
      await assert.rejects(query("select 1; select * from nope"), (err: unknown) => {
        assert.ok(err instanceof PgQueryError);
        assert.equal(err.message, 'relation "nope" does not exist');
        assert.equal(err.sqlstate, "42P01");
        assert.equal(err.results.length, 1, "the statement before the error completed");
        return true;
      });
    });

    await t.step("COPY TO STDOUT lines come back as rows", async () => {
      const [r] = await query(
        "copy (select id, name from t order by id) to stdout with (format csv)",
      );
      assert.deepEqual(r.rows, [["1,a"], ["2,"]]);
      assert.equal(r.command, "COPY 2");
    });

    await t.step("an empty query gives no results", async () => {
      assert.deepEqual(await query(";"), []);
    });
  },
});

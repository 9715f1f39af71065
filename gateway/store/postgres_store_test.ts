import assert from "node:assert/strict";
import postgres from "postgres";
import { POSTGRES_SKIP_REASON, type PostgresServer, startPostgres } from "../../tests/_postgres.ts";
import { HoopError } from "../../proto/errors.ts";
import { secretBoxFromKey } from "../secret_box.ts";
import { storeConformance } from "./_store_conformance.ts";
import { openStore } from "./open_store.ts";

if (POSTGRES_SKIP_REASON) console.warn(`PostgreSQL store tests ignored: ${POSTGRES_SKIP_REASON}`);

// One server for the whole file, started on first use and stopped by teardown;
// every store gets a fresh schema in one database.
let server: Promise<{ pg: PostgresServer; dbUrl: string }> | undefined;
function shared() {
  server ??= (async () => {
    const pg = await startPostgres();
    const dbUrl = await pg.createDatabase(`hoop_store_${crypto.randomUUID().slice(0, 8)}`);
    return { pg, dbUrl };
  })();
  return server;
}

storeConformance(
  "SqlStore on PostgreSQL conforms to the Store behaviour",
  async () => {
    const { dbUrl } = await shared();
    const schema = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const u = new URL(dbUrl);
    u.searchParams.set("schema", schema);
    const url = u.href;
    const secretBox = await secretBoxFromKey(crypto.getRandomValues(new Uint8Array(32)));
    const dataDir = "/nonexistent-hoop-data-dir"; // PostgreSQL needs no data dir
    const admin = () => postgres(dbUrl, { max: 1, onnotice: () => {} });
    return {
      store: await openStore(url, { dataDir, secretBox }),
      reopen: () => openStore(url, { dataDir, secretBox }),
      // Every row of every table of the schema, as PostgreSQL's text form.
      async rawDump() {
        const sql = admin();
        try {
          const tables = await sql`
            SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema}`;
          let text = "";
          for (const { table_name } of tables) {
            const rows = await sql`SELECT t::text AS r FROM ${sql(schema)}.${sql(table_name)} t`;
            text += rows.map((r) => r.r).join("\n") + "\n";
          }
          return text;
        } finally {
          await sql.end({ timeout: 1 });
        }
      },
      async cleanup() {
        const sql = admin();
        try {
          await sql`DROP SCHEMA ${sql(schema)} CASCADE`;
        } finally {
          await sql.end({ timeout: 1 });
        }
      },
    };
  },
  {
    ignore: POSTGRES_SKIP_REASON,
    async teardown() {
      if (server) await (await server).pg.stop();
    },
  },
);

Deno.test({
  name: "openStore() reports a refused PostgreSQL login without the password",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn() {
    await using pg = await startPostgres();
    const u = new URL(pg.adminUrl);
    u.password = "wrong-pw-4711";
    const secretBox = await secretBoxFromKey(new Uint8Array(32));
    await assert.rejects(openStore(u.href, { dataDir: "/nonexistent", secretBox }), (e) => {
      assert.ok(e instanceof HoopError);
      assert.equal(e.code, "failed_precondition");
      assert.match(
        e.message,
        new RegExp(`Cannot log in to PostgreSQL at "127\\.0\\.0\\.1:${pg.port}"`),
      );
      assert.ok(!e.message.includes("wrong-pw-4711"));
      return true;
    });
  },
});

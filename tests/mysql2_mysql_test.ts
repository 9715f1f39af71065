/**
 * `npm:mysql2` through `hoop connect` to a real MariaDB 10.11: prepared
 * statements (binary protocol), binary columns, a 40 MB BLOB, a rolled-back
 * transaction, KILL QUERY from a second connection, the audit of prepared
 * statements with their parameters, and hostile client bytes.
 */
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import {
  getSession,
  hoopOk,
  listSessions,
  signupAdmin,
  spawnHoop,
  startConnect,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { haveMariaDb, startMariaDb } from "./_mariadb.ts";

const HAVE = await haveMariaDb();
if (!HAVE) console.warn("mysql2_mysql_test skipped: mariadbd or mariadb missing");

const BLOB_BYTES = 40 * 1024 * 1024;

Deno.test({
  name: "mysql2 through hoop connect: prepared statements, blobs, transactions, KILL, audit",
  ignore: !HAVE,
  // mysql2 keeps a timer per pool; every connection is ended explicitly below.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await using db = await startMariaDb();
    await using gw = await startGateway();
    const appUrl = await db.createUser("app", "app-Secret-pw-1");
    const admin = await signupAdmin(gw);
    const orgKey = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
    await using run = spawnHoop("run my2", ["run", "--name", "my2", "--mysql", appUrl], {
      env: { HOOP_KEY: orgKey },
    });
    await run.log.waitFor(/connected to the gateway/);
    await using tunnel = await startConnect("my2", { env: admin.env });
    const open = () =>
      mysql.createConnection({
        host: "127.0.0.1",
        port: tunnel.port,
        user: "anyone",
        password: "not-the-password",
        database: "app",
        connectTimeout: 20_000,
      });

    const c = await open();
    try {
      await t.step("prepared statements with binary columns", async () => {
        await c.query(
          "create table items (id int primary key, name varchar(40), price decimal(8,2), " +
            "raw varbinary(8), made datetime)",
        );
        await c.execute("insert into items values (?, ?, ?, ?, ?)", [
          1,
          "wid'get",
          "9.50",
          new Uint8Array([0, 255, 10]),
          new Date("2024-05-06T07:08:09Z"),
        ]);
        const [rows] = await c.execute("select id, name, price, raw from items where id = ?", [1]);
        const row = (rows as Record<string, unknown>[])[0];
        assert.equal(row.id, 1);
        assert.equal(row.name, "wid'get");
        assert.equal(row.price, "9.50");
        assert.deepEqual([...(row.raw as Uint8Array)], [0, 255, 10]);
      });

      await t.step("a rolled-back transaction leaves nothing", async () => {
        await c.beginTransaction();
        await c.execute("insert into items (id, name) values (?, ?)", [2, "ghost"]);
        await c.rollback();
        const [rows] = await c.query("select count(*) as n from items");
        assert.equal(Number((rows as { n: number }[])[0].n), 1);
      });

      await t.step("a 40 MB BLOB round trip (split packets both ways)", async () => {
        await c.query("create table blobs (id int primary key, b longblob)");
        const blob = new Uint8Array(BLOB_BYTES);
        for (let i = 0; i < blob.length; i += 4096) blob[i] = (i / 4096) & 0xff;
        blob[blob.length - 1] = 0x5a;
        await c.execute("insert into blobs values (?, ?)", [1, blob]);
        const [rows] = await c.execute("select b from blobs where id = ?", [1]);
        const got = (rows as { b: Uint8Array }[])[0].b;
        assert.equal(got.length, BLOB_BYTES);
        assert.ok(Buffer.compare(Buffer.from(got), Buffer.from(blob)) === 0, "blob differs");
      });

      await t.step("KILL QUERY from a second connection stops the right query", async () => {
        const [idRows] = await c.query("select connection_id() as id");
        const id = (idRows as { id: number }[])[0].id;
        const slow = c.query("select sleep(60)");
        slow.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
        const killer = await open();
        try {
          await waitFor(async () => {
            const [p] = await killer.query(
              "select count(*) as n from information_schema.processlist where id = ? and info like 'select sleep%'",
              [id],
            );
            return Number((p as { n: number }[])[0].n) > 0;
          }, { timeoutMs: 20_000, message: "sleep never started" });
          await killer.query(`kill query ${Number(id)}`);
          await assert.rejects(slow, /Query execution was interrupted/);
        } finally {
          await killer.end();
        }
        const [again] = await c.query("select 2 as two");
        assert.equal((again as { two: number }[])[0].two, 2);
      });
    } finally {
      await c.end();
    }

    await t.step("prepared statements are audited with their parameters", async () => {
      const found = await waitFor(async () => {
        for (const s of await listSessions(admin, ["--connection", "my2"])) {
          const { events } = await getSession(admin, s.id);
          const sql = events.filter((e) => e.kind === "sql").map((e) => e.data ?? "");
          if (sql.some((q) => q.startsWith("select id, name, price, raw from items"))) return sql;
        }
        return undefined;
      }, { timeoutMs: 20_000, message: "no sql event for the prepared select" });
      const insert = found!.find((q) => q.startsWith("insert into items values"));
      assert.ok(insert, found!.join("\n"));
      assert.match(insert, /-- params: \[.*"wid'get".*\]/);
      assert.ok(found!.some((q) => q === "select count(*) as n from items"), found!.join("\n"));
    });

    await t.step("hostile client bytes end the session, not the agent", async () => {
      const raw = await Deno.connect({ hostname: "127.0.0.1", port: tunnel.port });
      const buf = new Uint8Array(4096);
      // The greeting, then a handshake response claiming 16 MiB of which a few bytes come.
      assert.ok((await raw.read(buf)) ?? 0 > 0);
      await raw.write(new Uint8Array([0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff, 0, 0]));
      await raw.write(new Uint8Array([0x07, 0, 0, 2, 0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
      // The agent ends the session: the tunnel's end of it closes.
      const timer = setTimeout(() => raw.close(), 30_000);
      let ended = false;
      try {
        while ((await raw.read(buf)) !== null);
        ended = true;
      } catch {
        // Closed by the timer: the session did not end.
      }
      clearTimeout(timer);
      if (ended) raw.close();
      assert.ok(ended, "the session did not end");
      // The reason is in the agent's log. (The session's own record may say "done" when the
      // gateway sees the close before the agent's failure report: a known race, see the report.)
      await run.log.waitFor(/mysql session failed .*a message of more than 65536 bytes/, 30_000);
      const again = await open();
      try {
        const [r] = await again.query("select 3 as three");
        assert.equal((r as { three: number }[])[0].three, 3);
      } finally {
        await again.end();
      }
    });
  },
});

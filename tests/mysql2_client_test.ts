/**
 * `npm:mysql2` through `hoop connect` against a throwaway MariaDB: prepared
 * statements, binary columns, a 40 MB BLOB both ways, a rolled-back
 * transaction, `KILL QUERY` from a second connection, `COM_CHANGE_USER`
 * refused, and the audit of prepared statements with their parameters.
 */
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import {
  getSession,
  hoopOk,
  listSessions,
  signupAdmin,
  startAgent,
  startConnect,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { haveMariaDb, startMariaDb } from "./_mariadb.ts";

const HAVE = await haveMariaDb();
if (!HAVE) console.warn("mysql2_client_test skipped: mariadbd is not installed");

/** Size of the BLOB sent and read back (above the 16 MiB packet split, twice). */
const BLOB_BYTES = 40 * 1024 * 1024;

Deno.test({
  name: "mysql2 through hoop connect: prepared statements, BLOBs, transactions, KILL, audit",
  ignore: !HAVE,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await using db = await startMariaDb();
    const url = await db.createUser("app", "app-Secret-pw-1", { db: "app" });
    await using gw = await startGateway();
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
      .trim();
    await using _agent = await startAgent(key);
    await hoopOk(["admin", "create", "connection", "my", "--agent", "dev", "--mysql", url], {
      env: admin.env,
    });
    await using tunnel = await startConnect("my", { env: admin.env });
    const open = () =>
      mysql.createConnection({
        host: "127.0.0.1",
        port: tunnel.port,
        user: "anyone",
        password: "not-the-password",
        connectTimeout: 20_000,
        supportBigNumbers: true,
      });
    const conn = await open();
    try {
      await t.step("prepared statements with typed parameters", async () => {
        await conn.query(
          "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2), " +
            "at DATETIME, raw VARBINARY(16), big LONGBLOB)",
        );
        await conn.execute("INSERT INTO t (id, name, price, at, raw) VALUES (?, ?, ?, ?, ?)", [
          1,
          "prepared-audit-3",
          "12.50",
          new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
          new Uint8Array([0, 1, 2, 255]),
        ]);
        const [rows] = await conn.execute(
          "SELECT id, name, price, raw FROM t WHERE id = ? AND name <> ?",
          [1, "x"],
        );
        const r = (rows as Record<string, unknown>[])[0];
        assert.equal(r.id, 1);
        assert.equal(r.name, "prepared-audit-3");
        assert.equal(r.price, "12.50");
        assert.deepEqual([...(r.raw as Uint8Array)], [0, 1, 2, 255]);
      });

      await t.step("a rolled-back transaction leaves nothing", async () => {
        await conn.beginTransaction();
        await conn.execute("INSERT INTO t (id, name) VALUES (?, ?)", [2, "rolled-back"]);
        await conn.rollback();
        const [rows] = await conn.query("SELECT COUNT(*) AS n FROM t WHERE id = 2");
        assert.equal(Number((rows as { n: number }[])[0].n), 0);
      });

      await t.step("a 40 MB BLOB goes in and comes back intact", async () => {
        const blob = new Uint8Array(BLOB_BYTES);
        for (let i = 0; i < blob.length; i += 4096) blob[i] = (i / 4096) & 0xff;
        blob[blob.length - 1] = 0x5a;
        await conn.execute("UPDATE t SET big = ? WHERE id = 1", [blob]);
        const [rows] = await conn.query("SELECT big FROM t WHERE id = 1");
        const back = (rows as { big: Uint8Array }[])[0].big;
        assert.equal(back.length, blob.length);
        assert.ok(Buffer.from(back).equals(Buffer.from(blob)), "the BLOB differs");
      });

      await t.step(
        "COM_CHANGE_USER is refused with an ERR; the session keeps its user",
        async () => {
          await assert.rejects(
            () => conn.changeUser({ user: "root", password: "" }),
            /COM_CHANGE_USER is refused/,
          );
          const second = await open();
          try {
            const [rows] = await second.query("SELECT CURRENT_USER() AS u");
            assert.equal((rows as { u: string }[])[0].u, "app@%");
          } finally {
            await second.end();
          }
        },
      );

      await t.step("KILL QUERY from a second connection stops the first's query", async () => {
        const victim = await open();
        const killer = await open();
        try {
          const [idRows] = await victim.query("SELECT CONNECTION_ID() AS id");
          const id = (idRows as { id: number }[])[0].id;
          const slow = victim.query("SELECT SLEEP(60) AS s");
          await waitFor(async () => {
            const [p] = await killer.query(
              "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO LIKE 'SELECT SLEEP%'",
              [id],
            );
            return Number((p as { n: number }[])[0].n) === 1;
          }, { timeoutMs: 15_000, message: "the slow query running on the server" });
          await killer.query(`KILL QUERY ${Number(id)}`);
          await assert.rejects(slow, /Query execution was interrupted/);
          // Only the query was killed: the victim's session goes on.
          const [after] = await victim.query("SELECT CONNECTION_ID() AS id");
          assert.equal((after as { id: number }[])[0].id, id);
        } finally {
          await victim.end().catch(() => {});
          await killer.end().catch(() => {});
        }
      });
    } finally {
      await conn.end().catch(() => {});
    }

    await t.step("the audit holds prepared statements with their parameters", async () => {
      const events = await waitFor(async () => {
        const all = await listSessions(admin, ["--connection", "my"]);
        for (const s of all) {
          const { events } = await getSession(admin, s.id);
          if (events.some((e) => e.kind === "sql" && e.data?.includes("prepared-audit-3"))) {
            return events;
          }
        }
        return undefined;
      }, { timeoutMs: 15_000, message: "the audited prepared statement" });
      const sql = events!.filter((e) => e.kind === "sql").map((e) => e.data ?? "");
      const insert = sql.find((s) => s.startsWith("INSERT INTO t (id, name, price, at, raw)"));
      assert.ok(insert, JSON.stringify(sql));
      assert.match(
        insert,
        /-- params: \["1","prepared-audit-3","12.50","2024-01-0\d \d\d:04:05(\.000000)?","\[binary 4 bytes\]"\]/,
      );
      assert.ok(sql.some((s) => s.startsWith("SELECT id, name, price, raw FROM t WHERE id = ?")));
      assert.ok(sql.includes("ROLLBACK") || sql.includes("rollback"), JSON.stringify(sql));
      const update = sql.find((s) => s.startsWith("UPDATE t SET big = ?"));
      assert.ok(update, "the BLOB update is recorded");
      assert.ok(update.length < 1024, "the BLOB's bytes are not in the audit");
    });
  },
});

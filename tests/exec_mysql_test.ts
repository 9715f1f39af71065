/**
 * `hoop exec` on a MySQL connection (table, typed JSON, CSV, several
 * statements, the server's error code), and `COM_CHANGE_USER` refused by the
 * agent (with `npm:mysql2`'s `changeUser`), against a throwaway MariaDB.
 */
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { hoop, hoopOk, signupAdmin, startAgent, startConnect, startGateway } from "./_harness.ts";
import { haveMariaDb, startMariaDb } from "./_mariadb.ts";

const HAVE = await haveMariaDb();
if (!HAVE) console.warn("exec_mysql_test skipped: mariadbd is not installed");

Deno.test({
  name: "hoop exec on a mysql connection; COM_CHANGE_USER and LOAD DATA LOCAL are refused",
  ignore: !HAVE,
  // mysql2 keeps timers after end(); every connection is ended explicitly.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await using db = await startMariaDb();
    const url = await db.createUser("app", "app-Secret-pw-1", { db: "app" });
    await using gw = await startGateway();
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
      .trim();
    await using agent = await startAgent(key);
    await hoopOk(["admin", "create", "connection", "my", "--agent", "dev", "--mysql", url], {
      env: admin.env,
    });

    await t.step("hoop exec prints a table, typed JSON and CSV", async () => {
      await db.sql(
        "CREATE TABLE app.items (id INT, name VARCHAR(20), price DECIMAL(8,2), doc JSON); " +
          `INSERT INTO app.items VALUES (1, 'pen', 1.50, '{"a":1}'), (2, NULL, 20.00, NULL);`,
      );
      const q = "SELECT id, name, price, doc FROM items ORDER BY id";
      const table = await hoopOk(["exec", "my", "-i", q], { env: admin.env });
      assert.equal(
        table.stdout,
        [
          " id | name | price |   doc   ",
          "----+------+-------+---------",
          '  1 | pen  |  1.50 | {"a":1}',
          "  2 |      | 20.00 | ",
          "(2 rows)",
          "",
          "",
        ].join("\n"),
      );
      const json = await hoopOk(["exec", "my", "-i", q, "-o", "json"], { env: admin.env });
      assert.deepEqual(JSON.parse(json.stdout), [
        // MariaDB's JSON is LONGTEXT on the wire: it stays text.
        { id: 1, name: "pen", price: 1.5, doc: '{"a":1}' },
        { id: 2, name: null, price: 20, doc: null },
      ]);
      const csv = await hoopOk(["exec", "my", "-i", q, "-o", "csv"], { env: admin.env });
      assert.equal(csv.stdout, 'id,name,price,doc\n1,pen,1.50,"{""a"":1}"\n2,,20.00,\n');
    });

    await t.step("binary columns print as hex", async () => {
      const r = await hoopOk([
        "exec",
        "my",
        "-i",
        "SELECT CAST(X'00ff41' AS BINARY) AS b, 'text' AS t",
        "-o",
        "csv",
      ], { env: admin.env });
      assert.equal(r.stdout, "b,t\n0x00ff41,text\n");
    });

    await t.step("several statements in one input, each result printed", async () => {
      const two = await hoopOk(["exec", "my", "-i", "UPDATE items SET id = id; SELECT 7 AS n"], {
        env: admin.env,
      });
      assert.equal(two.stdout, "OK, 0 rows affected\n n \n---\n 7\n(1 row)\n\n");
    });

    await t.step("the server's error code and message, exit 1", async () => {
      const r = await hoop(["exec", "my", "-i", "SELECT * FROM nope"], { env: admin.env });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^hoop: ERROR 1146 \(42S02\): Table 'app\.nope' doesn't exist\n/);
    });

    await t.step("COM_CHANGE_USER and LOAD DATA LOCAL are refused; the user stays", async () => {
      await using tunnel = await startConnect("my", { env: admin.env });
      const conn = await mysql.createConnection({
        host: "127.0.0.1",
        port: tunnel.port,
        user: "anyone",
        password: "not-the-password",
        connectTimeout: 20_000,
      });
      try {
        await assert.rejects(
          () => conn.changeUser({ user: "root", password: "" }),
          /COM_CHANGE_USER is refused/,
        );
      } finally {
        await conn.end().catch(() => {});
      }
      // LOAD DATA LOCAL INFILE: the client is not offered CLIENT_LOCAL_FILES, so the server
      // refuses the statement itself and no file of the client's machine is read.
      const load = await new Deno.Command("mariadb", {
        args: [
          "--no-defaults",
          "-h",
          "127.0.0.1",
          "-P",
          String(tunnel.port),
          "-u",
          "x",
          "--local-infile=1",
          "-e",
          "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE items",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.notEqual(load.code, 0);
      assert.match(new TextDecoder().decode(load.stderr), /local infile|not allowed/i);
      const again = await mysql.createConnection({
        host: "127.0.0.1",
        port: tunnel.port,
        user: "root",
        password: "",
        connectTimeout: 20_000,
      });
      try {
        const [rows] = await again.query("SELECT CURRENT_USER() AS u");
        assert.equal((rows as { u: string }[])[0].u, "app@%");
      } finally {
        await again.end().catch(() => {});
      }
    });

    await t.step("a session the gateway cannot open is the client's error line", async () => {
      await using tunnel = await startConnect("my", { env: admin.env });
      await agent.stop();
      const r = await new Deno.Command("mariadb", {
        args: [
          "--no-defaults",
          "-h",
          "127.0.0.1",
          "-P",
          String(tunnel.port),
          "-u",
          "x",
          "-e",
          "SELECT 1",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.notEqual(r.code, 0);
      // The client (Connector/C 3.4 tries TLS first) quotes the ERR that came instead of a greeting.
      assert.match(
        new TextDecoder().decode(r.stderr),
        /1043 - hoop: Cannot open a session on connection "my": agent "dev" is offline/,
      );
    });
  },
});

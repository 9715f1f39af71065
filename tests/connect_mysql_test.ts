/**
 * `hoop connect` to MySQL connections, with the real `mariadb` client and
 * `mariadb-dump` against a real MariaDB 10.11. The client logs in to the local
 * port with any user and password; the agent holds the real ones
 * (mysql_native_password for the embedded agent, ed25519 for a standalone one).
 */
import assert from "node:assert/strict";
import {
  createUser,
  getSession,
  hoop,
  hoopOk,
  listSessions,
  signupAdmin,
  spawnHoop,
  startAgent,
  startConnect,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { haveMariaDb, startMariaDb } from "./_mariadb.ts";

const HAVE = await haveMariaDb();
if (!HAVE) console.warn("connect_mysql_test skipped: mariadbd or mariadb missing");

const decoder = new TextDecoder();
const APP_PASSWORD = "app-Secret-pw-1";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function runTool(cmd: string, args: string[], timeoutMs = 60_000): Promise<Run> {
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The `mariadb` client as user "nobody" with a wrong password (the tunnel ignores both). */
function mariadbVia(port: number, sql: string, db = ""): Promise<Run> {
  return runTool("mariadb", [
    "--protocol=TCP",
    "-h",
    "127.0.0.1",
    "-P",
    String(port),
    "-u",
    "nobody",
    "-pwrong-password",
    "--skip-ssl",
    "-N",
    "-B",
    "-e",
    sql,
    ...(db ? [db] : []),
  ]);
}

/** mariadb client arguments straight to the server for a mysql:// URL. */
function direct(url: string): string[] {
  const u = new URL(url);
  return [
    "--protocol=TCP",
    "-h",
    u.hostname,
    "-P",
    u.port,
    "-u",
    decodeURIComponent(u.username),
    `-p${decodeURIComponent(u.password)}`,
    "--skip-ssl",
  ];
}

/** A dump without the comment lines that carry dates and server addresses. */
function dumpBody(text: string): string {
  return text.split("\n").filter((l) => !l.startsWith("--") && !l.startsWith("/*M!999999"))
    .join("\n");
}

Deno.test({
  name: "hoop connect relays the mariadb client and mariadb-dump with the agent's credentials",
  ignore: !HAVE,
  async fn(t) {
    await using db = await startMariaDb();
    await using gw = await startGateway();
    const cleanup: (() => Promise<unknown>)[] = [];
    try {
      const appUrl = await db.createUser("app", APP_PASSWORD);
      const edUrl = await db.createUser("ed", "ed-Secret-pw-2", { plugin: "ed25519" });
      const admin = await signupAdmin(gw);
      const orgKey = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout
        .trim();
      const appUrlNoPassword = appUrl.replace(`:${encodeURIComponent(APP_PASSWORD)}@`, "@");
      const run = spawnHoop(
        "run mydemo",
        ["run", "--name", "mydemo", "--mysql", appUrlNoPassword],
        {
          env: { HOOP_KEY: orgKey, MYSQL_PWD: APP_PASSWORD },
        },
      );
      cleanup.push(() => run.stop());
      await run.log.waitFor(/connected to the gateway/);
      const tunnel = await startConnect("mydemo", { env: admin.env });
      cleanup.push(() => tunnel.stop());

      await t.step(
        "embedded agent: a wrong user and password log in as the real user",
        async () => {
          const r = await mariadbVia(tunnel.port, "select current_user(), database()", "ignored");
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout.trim(), "app@%\tapp");
          const conns = await hoopOk(["admin", "get", "connections", "-o", "json"], {
            env: admin.env,
          });
          assert.ok(!conns.stdout.includes(APP_PASSWORD), "the password reached the gateway");
        },
      );

      await t.step("statements are audited, errors carry the server's code", async () => {
        const r = await mariadbVia(
          tunnel.port,
          "create table t (id int primary key, b varbinary(16)); " +
            "insert into t values (1, 0x00ff), (2, null); select count(*) from t",
          "app",
        );
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), "2");
        const bad = await mariadbVia(tunnel.port, "select * from no_such_table", "app");
        assert.notEqual(bad.code, 0);
        assert.match(bad.stderr, /ERROR 1146 .*no_such_table/);
        const found = await waitFor(async () => {
          const sessions = await listSessions(admin, ["--connection", "mydemo"]);
          for (const s of sessions) {
            const { events } = await getSession(admin, s.id);
            const sql = events.filter((e) => e.kind === "sql").map((e) => e.data ?? "");
            if (sql.some((q) => q.includes("insert into t values"))) return sql;
          }
          return undefined;
        }, { timeoutMs: 20_000, message: "no sql event for the insert" });
        assert.ok(found!.some((q) => q.includes("select count(*) from t")), found!.join("\n"));
      });

      await t.step("mariadb-dump through the tunnel equals a direct dump", async () => {
        const args = ["--skip-ssl", "--skip-dump-date", "--single-transaction", "app"];
        const via = await runTool("mariadb-dump", [
          "--protocol=TCP",
          "-h",
          "127.0.0.1",
          "-P",
          String(tunnel.port),
          "-u",
          "x",
          "-px",
          ...args,
        ]);
        assert.equal(via.code, 0, via.stderr);
        const straight = await runTool("mariadb-dump", [...direct(appUrl), ...args]);
        assert.equal(straight.code, 0, straight.stderr);
        assert.match(via.stdout, /INSERT INTO `t` VALUES/);
        assert.equal(dumpBody(via.stdout), dumpBody(straight.stdout));
      });

      await t.step("standalone agent logs in with ed25519", async () => {
        const agentKey = (await hoopOk(["admin", "create", "agent", "edagent"], {
          env: admin.env,
        })).stdout.trim().split(/\s+/).find((w) => w.startsWith("grpc"))!;
        const agent = await startAgent(agentKey);
        cleanup.push(() => agent.stop());
        await hoopOk([
          "admin",
          "create",
          "connection",
          "myed",
          "--agent",
          "edagent",
          "--mysql",
          edUrl,
        ], { env: admin.env });
        const edTunnel = await startConnect("myed", { env: admin.env });
        cleanup.push(() => edTunnel.stop());
        const r = await mariadbVia(edTunnel.port, "select current_user()");
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), "ed@%");
      });

      await t.step("a bad URI is refused at creation", async () => {
        const r = await hoop([
          "admin",
          "create",
          "connection",
          "mybad",
          "--agent",
          "edagent",
          "--mysql",
          "mysql://u:p@127.0.0.1:3306/db?ssl-mode=SOMETIMES",
        ], { env: admin.env });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /ssl-mode/);
      });

      await t.step("a user without access is refused", async () => {
        const other = await createUser(gw, admin, "other@example.com");
        const r = await hoop(["connect", "mydemo", "-p", "0"], { env: other.env });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Access denied to connection "mydemo"/);
      });
    } finally {
      for (const c of cleanup.reverse()) await c().catch(() => {});
    }
  },
});

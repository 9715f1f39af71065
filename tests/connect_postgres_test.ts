/**
 * `hoop connect` to PostgreSQL connections, with real `psql` and `pgbench`
 * against a real server using SCRAM password auth. The client logs in to the
 * local port with any user and password; the agent holds the real ones.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  freePort,
  hoop,
  hoopOk,
  type HoopProcess,
  signupAdmin,
  spawnHoop,
  startAgent,
  startConnect,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, psqlThrough, startPostgres } from "./_postgres.ts";

if (POSTGRES_SKIP_REASON) console.warn(`connect_postgres_test skipped: ${POSTGRES_SKIP_REASON}`);

const decoder = new TextDecoder();
const APP_PASSWORD = "app-Secret-pw-1";

/**
 * Transactions each of pgbench's 8 clients runs per protocol: a bounded count,
 * not a duration, so the test checks that every one of them came back.
 */
const PGBENCH_TX_PER_CLIENT = 250;
/** Environment of a client that knows nothing: a wrong password and no service files. */
const WRONG = { PGPASSWORD: "wrong-password", PGCONNECT_TIMEOUT: "10", PGAPPNAME: "hoop-test" };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Start `psql -c SQL` through a tunnel and wait until the statement runs on the
 * server (seen in pg_stat_activity). The child is killed after 60 s at most.
 */
async function psqlRunning(port: number, sql: string, adminUrl: string) {
  const child = new Deno.Command("psql", {
    args: ["-X", "-h", "127.0.0.1", "-p", String(port), "-U", "nobody", "-c", sql],
    env: WRONG,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    await waitFor(() => isRunning(adminUrl, sql), {
      timeoutMs: 15_000,
      message: `${sql} never started`,
    });
  } catch (err) {
    clearTimeout(timer);
    child.kill("SIGKILL");
    await child.output();
    throw err;
  }
  return {
    child,
    async done(): Promise<{ code: number; stderr: string }> {
      const out = await child.output();
      return { code: out.code, stderr: decoder.decode(out.stderr) };
    },
    stopTimer: () => clearTimeout(timer),
  };
}

/** Run psql as user "nobody" (the tunnel ignores it) against a local hoop port. */
function psqlVia(port: number, sql: string, timeoutMs = 60_000): Promise<Run> {
  return psqlThrough(port, sql, {
    args: ["-At", "-v", "ON_ERROR_STOP=1"],
    env: { PGAPPNAME: "hoop-test" },
    timeoutMs,
  });
}

async function runTool(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<Run> {
  const child = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** psql connection arguments for a postgres:// URL, with the password for the env. */
function direct(url: string): { args: string[]; env: Record<string, string> } {
  const u = new URL(url);
  return {
    args: [
      "-h",
      u.hostname,
      "-p",
      u.port,
      "-U",
      decodeURIComponent(u.username),
      "-d",
      u.pathname.slice(1),
    ],
    env: { PGPASSWORD: decodeURIComponent(u.password), PGCONNECT_TIMEOUT: "10" },
  };
}

/** Stream a COPY ... TO STDOUT through psql into SHA-256; returns the digest, size and time. */
async function copyDigest(
  conn: { args: string[]; env: Record<string, string> },
  sql: string,
): Promise<{ sha256: string; bytes: number; ms: number }> {
  const started = performance.now();
  const child = new Deno.Command("psql", {
    args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", ...conn.args, "-c", sql],
    env: conn.env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const hash = createHash("sha256");
  let bytes = 0;
  const errText = new Response(child.stderr).text();
  for await (const chunk of child.stdout) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  const status = await child.status;
  clearTimeout(timer);
  const ms = performance.now() - started;
  assert.equal(status.code, 0, `psql COPY failed: ${await errText}`);
  return { sha256: hash.digest("hex"), bytes, ms };
}

/** Whether a statement is running on the server right now (seen through a direct login). */
async function isRunning(adminUrl: string, query: string): Promise<boolean> {
  const d = direct(adminUrl);
  const r = await runTool("psql", [
    "-X",
    "-At",
    ...d.args,
    "-c",
    `select count(*) from pg_stat_activity where state = 'active' and query = '${query}'`,
  ], d.env);
  return r.code === 0 && Number(r.stdout.trim()) > 0;
}

/** pgbench's summary: TPS and failed transactions. */
function parsePgbench(out: string): { tps: number; failed: number; processed: number } {
  const tps = out.match(/^tps = ([\d.]+)/m);
  const failed = out.match(/^number of failed transactions: (\d+)/m);
  const processed = out.match(/^number of transactions actually processed: (\d+)/m);
  assert.ok(tps && failed && processed, `unexpected pgbench output:\n${out}`);
  return { tps: Number(tps[1]), failed: Number(failed[1]), processed: Number(processed[1]) };
}

Deno.test({
  name: "hoop connect relays psql and pgbench to PostgreSQL with the agent's credentials",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    const pg = await startPostgres({ auth: "scram-sha-256" });
    const gw = await startGateway();
    const cleanup: (() => Promise<unknown>)[] = [];
    try {
      const appUrl = await pg.createUser("app", APP_PASSWORD, "app");
      const admin = await signupAdmin(gw);
      const orgKey = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout
        .trim();
      // The password comes from PGPASSWORD, so no process listing shows it.
      const appUrlNoPassword = appUrl.replace(`:${encodeURIComponent(APP_PASSWORD)}@`, "@");
      assert.notEqual(appUrlNoPassword, appUrl);
      const run = spawnHoop("run pgdemo", [
        "run",
        "--name",
        "pgdemo",
        "--postgres",
        appUrlNoPassword,
      ], {
        env: { HOOP_KEY: orgKey, PGPASSWORD: APP_PASSWORD },
      });
      cleanup.push(() => run.stop());
      await run.log.waitFor(/connected to the gateway/);
      const tunnel = await startConnect("pgdemo", { env: admin.env });
      cleanup.push(() => tunnel.stop());

      await t.step(
        "embedded agent: a wrong user and password log in as the real user",
        async () => {
          const r = await psqlVia(tunnel.port, "select current_user, current_database()");
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout.trim(), "app|app");
          // The gateway only ever saw the redacted URI.
          const conns = await hoopOk(["admin", "get", "connections", "-o", "json"], {
            env: admin.env,
          });
          assert.ok(!conns.stdout.includes(APP_PASSWORD), "the password reached the gateway");
          const ps = await new Deno.Command("ps", { args: ["-o", "args=", "-p", String(run.pid)] })
            .output();
          const cmdline = new TextDecoder().decode(ps.stdout);
          assert.match(cmdline, /--postgres/);
          assert.ok(!cmdline.includes(APP_PASSWORD), "the password shows in the process listing");
        },
      );

      let agent: HoopProcess | undefined;
      let stdTunnel: HoopProcess & { port: number } | undefined;
      await t.step("standard agent: the same through an admin-created connection", async () => {
        const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
          .trim();
        agent = await startAgent(key);
        cleanup.push(() => agent!.stop());
        await hoopOk([
          "admin",
          "create",
          "connection",
          "pgstd",
          "--agent",
          "dev",
          "--postgres",
          appUrl,
        ], { env: admin.env });
        stdTunnel = await startConnect("pgstd", { env: admin.env });
        cleanup.push(() => stdTunnel!.stop());
        const r = await psqlVia(stdTunnel.port, "select current_user");
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), "app");
      });

      await t.step("a 200 MB COPY out arrives byte for byte", async () => {
        const sql =
          "COPY (select i, repeat(md5(i::text), 31) from generate_series(1, 202000) i) TO STDOUT";
        const want = await copyDigest(direct(appUrl), sql);
        assert.ok(want.bytes >= 200_000_000, `only ${want.bytes} bytes`);
        const got = await copyDigest({
          args: ["-h", "127.0.0.1", "-p", String(tunnel.port), "-U", "nobody", "-d", "x"],
          env: WRONG,
        }, sql);
        assert.equal(got.bytes, want.bytes);
        assert.equal(got.sha256, want.sha256);
        console.log(
          `COPY ${(got.bytes / 1e6).toFixed(0)} MB: direct ${want.ms.toFixed(0)} ms, ` +
            `through hoop ${got.ms.toFixed(0)} ms`,
        );
      });

      await t.step(
        "pgbench: init, then simple and extended protocol without failures",
        async () => {
          const conn = ["-h", "127.0.0.1", "-p", String(tunnel.port), "-U", "nobody"];
          const init = await runTool("pgbench", ["-i", "-q", "-s", "1", ...conn, "x"], WRONG);
          assert.equal(init.code, 0, init.stderr);
          assert.match(init.stderr, /done in/);
          for (const mode of ["simple", "extended"]) {
            const r = await runTool("pgbench", [
              "-n",
              "-c",
              "8",
              "-j",
              "2",
              "-t",
              String(PGBENCH_TX_PER_CLIENT),
              "-M",
              mode,
              ...conn,
              "x",
            ], WRONG);
            assert.equal(r.code, 0, r.stderr + r.stdout);
            const s = parsePgbench(r.stdout);
            assert.equal(s.failed, 0, r.stdout);
            assert.equal(s.processed, 8 * PGBENCH_TX_PER_CLIENT, r.stdout);
            assert.ok(s.tps > 0, r.stdout);
            console.log(
              `pgbench -c 8 -j 2 -t ${PGBENCH_TX_PER_CLIENT} -M ${mode}: ${s.tps.toFixed(0)} TPS`,
            );
          }
        },
      );

      await t.step("SIGINT to psql cancels a running statement through the tunnel", async () => {
        const sql = "select pg_sleep(30)";
        const run = await psqlRunning(tunnel.port, sql, pg.adminUrl);
        try {
          run.child.kill("SIGINT");
          const { code, stderr } = await run.done();
          assert.equal(code, 1, stderr);
          assert.match(stderr, /canceling statement due to user request/);
        } finally {
          run.stopTimer();
        }
        assert.equal(await isRunning(pg.adminUrl, sql), false);
      });

      await t.step("an unreachable server: psql shows the agent's reason", async () => {
        const closed = freePort();
        const deadUrl = `postgres://app:${
          encodeURIComponent(APP_PASSWORD)
        }@127.0.0.1:${closed}/app`;
        const dead = spawnHoop("run pgdead", ["run", "--name", "pgdead", "--postgres", deadUrl], {
          env: { HOOP_KEY: orgKey },
        });
        cleanup.push(() => dead.stop());
        await dead.log.waitFor(/connected to the gateway/);
        const c = await startConnect("pgdead", { env: admin.env });
        cleanup.push(() => c.stop());
        const r = await psqlVia(c.port, "select 1", 30_000);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${closed}`), r.stderr);
        assert.match(r.stderr, /connection refused/i, r.stderr);
        assert.ok(!r.stderr.includes(APP_PASSWORD));
        await c.stop();
        await dead.stop();
      });

      await t.step("the agent is killed mid-query: psql fails instead of hanging", async () => {
        const sql = "select pg_sleep(29)";
        // pg_sleep(29) ends by itself after 29 s: a hang shows up as exit 0 and no error.
        const run = await psqlRunning(stdTunnel!.port, sql, pg.adminUrl);
        try {
          agent!.kill("SIGKILL");
          const { code, stderr } = await run.done();
          assert.notEqual(code, 0, stderr);
          assert.match(stderr, /server closed the connection unexpectedly|connection.*lost/i);
        } finally {
          run.stopTimer();
        }
      });

      await t.step("the agent is offline: exec and connect say so in one line", async () => {
        await waitFor(async () => {
          const r = await hoopOk(["admin", "get", "agents", "-o", "json"], { env: admin.env });
          const rows = JSON.parse(r.stdout) as { name: string; status: string }[];
          return rows.find((a) => a.name === "dev")?.status === "OFFLINE";
        }, { message: "agent dev never went OFFLINE" });
        const r = await hoop(["exec", "pgstd", "-i", "select 1"], {
          env: admin.env,
          timeoutMs: 15_000,
        });
        assert.equal(r.code, 255, r.stderr);
        assert.match(r.stderr, /^hoop: Cannot use connection "pgstd": agent "dev" is offline\n/);
      });
    } finally {
      for (const c of cleanup.reverse()) await c().catch(() => {});
      await gw.stop();
      await pg.stop();
    }
  },
});

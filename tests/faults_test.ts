/**
 * Faults with real processes killed for real (`SIGKILL`): an agent that dies
 * during a psql session, a console and an exec upload, and a gateway that
 * dies and restarts on its SQLite store. Each fault must end only the
 * sessions it touched, with a one-line error the client sees quickly, an
 * `error` record, a gateway that stays up, and a way back once the dead
 * process is started again. Times to error are printed for the closing note.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PTY_SUPPORTED } from "../agent/pty.ts";
import {
  getSession,
  hoopOk,
  type HoopProcess,
  type Identity,
  listSessions,
  type SessionJson,
  signupAdmin,
  spawnHoop,
  startAgent,
  startConnect,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, psqlThrough, startPostgres } from "./_postgres.ts";
import { killPid } from "./_audit_scenarios.ts";
import { spawnHoopInPty } from "./_pty_driver.ts";
import { gatewayRestartScenario } from "./_faults_scenarios.ts";

/** Issue 10 wants the error within 2 s; the assertion allows more for a loaded 2-core machine. */
const TARGET_ERROR_MS = 2_000;
const ERROR_DEADLINE_MS = 5_000;
/** Size of the exec upload the agent dies in (it stalls after 1 MiB, so size is not time). */
const UPLOAD_BYTES = 64 * 1024 * 1024;

/** The newest session on `connection` once it is closed. */
async function closedSession(admin: Identity, connection: string): Promise<SessionJson> {
  return await waitFor(async () => {
    const [s] = await listSessions(admin, ["--connection", connection, "--limit", "1"]);
    return s && s.status !== "open" ? s : undefined;
  }, { timeoutMs: 15_000, message: `no closed session on ${connection}` }) as SessionJson;
}

function report(what: string, ms: number): void {
  console.log(
    `fault figure: ${what}: client error after ${ms} ms (target ${TARGET_ERROR_MS} ms, ` +
      `deadline ${ERROR_DEADLINE_MS} ms)`,
  );
}

/** `p`'s value, or `undefined` if it takes longer than `ms` (the timer is cleared either way). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Lines of `text` that are not empty. */
function lines(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== "");
}

Deno.test("a killed agent ends only its sessions, with an error record, and comes back", async (t) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const gw = await startGateway();
    cleanups.push(() => gw.stop());
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
      .trim();
    let agent: HoopProcess = await startAgent(key);
    cleanups.push(() => agent.stop());
    const create = (name: string, ...flags: string[]) =>
      hoopOk(["admin", "create", "connection", name, "--agent", "dev", ...flags], {
        env: admin.env,
      });
    await create("py", "--command", "python3 -q -i");
    // Reads 1 MiB, says so with its pid, then holds stdin unread: the upload is mid-way.
    await create(
      "up",
      "--command",
      "sh -c 'head -c 1048576 > /dev/null; echo upload-started $$ >&2; exec sleep 600'",
    );
    await create("echo", "--command", "echo hello-again");

    /** Kill the agent, then start it again once the test has looked at the damage. */
    const killAgent = async () => {
      agent.kill("SIGKILL");
      await agent.status;
    };
    const restartAgent = async () => {
      agent = await startAgent(key, { name: "agent (restarted)" });
      const r = await hoopOk(["exec", "echo"], { env: admin.env });
      assert.equal(r.stdout, "hello-again\n");
      const s = await closedSession(admin, "echo");
      // Once recorded "error" now and then: input the agent no longer took was
      // blamed on the client (fixed in gateway/broker/relay_frames.ts).
      assert.equal(s.status, "done", `the exec after the restart: ${s.error}`);
      assert.equal(s.exit_code, 0);
    };
    /** A step that failed before its restart must not take the next steps down with it. */
    const ensureAgent = async () => {
      if (agent.hasExited()) agent = await startAgent(key, { name: "agent (restarted)" });
    };
    const gatewayAlive = () => assert.ok(!gw.hasExited(), "the gateway died with the agent");

    await t.step({
      name: "during a psql session through hoop connect",
      ignore: POSTGRES_SKIP_REASON !== undefined,
      fn: async () => {
        await ensureAgent();
        const pg = await startPostgres();
        cleanups.push(() => pg.stop());
        await create("pg", "--postgres", await pg.createUser("app", "app-password"));
        const tunnel = await startConnect("pg", { env: admin.env });
        cleanups.push(() => tunnel.stop());
        const sleeping = psqlThrough(tunnel.port, "select pg_sleep(60)", { timeoutMs: 30_000 });
        const [live] = (await waitFor(async () => {
          const list = await listSessions(admin, ["--connection", "pg", "--limit", "1"]);
          if (!list[0]) return undefined;
          const { events } = await getSession(admin, list[0].id);
          return events.some((e) => e.data === "select pg_sleep(60)") ? list : undefined;
        }, { message: "the statement was never recorded" }))!;

        const t0 = performance.now();
        await killAgent();
        const r = await sleeping;
        const ms = Math.round(performance.now() - t0);
        report("agent kill -9 during psql", ms);
        console.log(`  psql exit ${r.code}, stderr: ${JSON.stringify(r.stderr)}`);
        assert.notEqual(r.code, 0);
        assert.ok(ms < ERROR_DEADLINE_MS, `psql saw the error after ${ms} ms`);
        assert.ok(!tunnel.hasExited(), "hoop connect must keep listening");

        const s = await closedSession(admin, "pg");
        console.log(`  session ${s.id}: status ${s.status}, error ${JSON.stringify(s.error)}`);
        assert.equal(s.id, live.id);
        // Once recorded "done" now and then: the agent's side closing looked like the
        // server hanging up (the broker now waits AGENT_GONE_GRACE_MS for the agent's news).
        assert.equal(s.status, "error");
        gatewayAlive();

        await restartAgent();
        const again = await psqlThrough(tunnel.port, "select 40 + 2", { args: ["-At"] });
        assert.equal(again.code, 0, again.stderr);
        assert.equal(again.stdout.trim(), "42");
      },
    });

    await t.step({
      name: "during a console",
      ignore: !PTY_SUPPORTED,
      fn: async () => {
        await ensureAgent();
        const term = spawnHoopInPty(["connect", "py"], { env: admin.env, cols: 100, rows: 30 });
        cleanups.push(() => term.stop());
        await term.waitFor(">>> ", { timeoutMs: 30_000 });
        const mark = term.mark();
        await term.type("print(6*7)\r");
        await term.waitFor(/^42$/m, { since: mark });
        const afterKill = term.mark();

        const t0 = performance.now();
        await killAgent();
        const st = await within(term.status, 30_000);
        const ms = Math.round(performance.now() - t0);
        report("agent kill -9 during a console", ms);
        assert.ok(st, "hoop connect never exited");
        // close() drains what the terminal still holds.
        await term.close();
        const said = lines(term.screen.slice(afterKill));
        console.log(`  console exit ${st.code}, said: ${JSON.stringify(said)}`);
        assert.notEqual(st.code, 0);
        assert.ok(ms < ERROR_DEADLINE_MS, `the console ended after ${ms} ms`);
        const errors = said.filter((l) => l.startsWith("hoop: "));
        assert.equal(errors.length, 1, `want one "hoop: " line in ${JSON.stringify(said)}`);

        const s = await closedSession(admin, "py");
        console.log(`  session ${s.id}: status ${s.status}, error ${JSON.stringify(s.error)}`);
        assert.equal(s.status, "error");
        assert.equal(s.verb, "console");
        gatewayAlive();
        await restartAgent();
      },
    });

    await t.step("during an exec upload", async () => {
      await ensureAgent();
      const file = join(gw.dataDir, "upload.bin");
      await Deno.writeFile(file, new Uint8Array(UPLOAD_BYTES).fill(0x78));
      const exec = spawnHoop("exec up", ["exec", "up", "-f", file], { env: admin.env });
      cleanups.push(() => exec.stop());
      const pid = Number((await exec.log.waitFor(/upload-started (\d+)/, 30_000))[1]);
      // SIGKILL on the agent leaves its child running: end it by its id.
      cleanups.push(() => killPid(pid));
      const before = exec.log.text.length;

      const t0 = performance.now();
      await killAgent();
      const st = await within(exec.status, 30_000);
      const ms = Math.round(performance.now() - t0);
      report("agent kill -9 during an exec upload", ms);
      assert.ok(st, "hoop exec never exited");
      const said = lines(exec.log.text.slice(before));
      console.log(`  exec exit ${st.code}, said: ${JSON.stringify(said)}`);
      assert.equal(st.code, 255);
      assert.ok(ms < ERROR_DEADLINE_MS, `hoop exec ended after ${ms} ms`);
      assert.equal(said.length, 1, `want one line, got ${JSON.stringify(said)}`);
      assert.match(said[0], /^hoop: /);

      const s = await closedSession(admin, "up");
      console.log(
        `  session ${s.id}: status ${s.status}, bytes_in ${s.bytes_in}, ` +
          `error ${JSON.stringify(s.error)}`,
      );
      assert.equal(s.status, "error");
      assert.ok(s.bytes_in >= 1024 * 1024, `bytes_in ${s.bytes_in}`);
      // Once blamed the client ("the client's data connection failed: Broken pipe");
      // a write the agent refuses is no longer the client's fault.
      assert.match(s.error ?? "", /agent/, "the recorded reason must name the agent");
      gatewayAlive();
      await restartAgent();
    });
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }
});

gatewayRestartScenario("sqlite");

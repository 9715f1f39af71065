/**
 * The audit trail, end to end, written once and run on both stores
 * (`audit_sqlite_test.ts`, `audit_postgres_test.ts`): every exec, console
 * and proxied PostgreSQL connection becomes a session with its user,
 * connection, agent, verb, status, exit code and byte counts; what passed
 * through is recorded (exec input/stdout/stderr, console output as
 * asciicast v2, SQL statements of both query protocols), capped with a
 * truncation flag, and durable across a gateway crash.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createUser,
  freePort,
  type GatewayProcess,
  hoop,
  hoopOk,
  type Identity,
  parseTable,
  signupAdmin,
  spawnHoop,
  startAgent,
  startConnect,
  startGateway,
  type StartGatewayOptions,
  waitFor,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, type PostgresServer, startPostgres } from "./_postgres.ts";
import { spawnHoopInPty } from "./_pty_driver.ts";
import type { Session, SessionEvent } from "../cli/api_client.ts";

/** Which store the gateway under test uses. */
export type AuditStoreMode = "sqlite" | "postgres";

/** Recorded data cap of the gateway under test (`HOOP_AUDIT_MAX_BYTES`). */
const AUDIT_MAX_BYTES = 16_384;

/** Sessions and events as `hoop admin get ... -o json` prints them: the CLI's own API types. */
type ApiSession = Session;
type ApiEvent = SessionEvent;

async function sessions(admin: Identity, filters: string[] = []): Promise<ApiSession[]> {
  const r = await hoopOk(["admin", "get", "sessions", ...filters, "-o", "json"], {
    env: admin.env,
  });
  return JSON.parse(r.stdout);
}

async function session(
  admin: Identity,
  id: string,
): Promise<{ session: ApiSession; events: ApiEvent[] }> {
  return JSON.parse(
    (await hoopOk(["admin", "get", "session", id, "-o", "json"], {
      env: admin.env,
    })).stdout,
  );
}

/** The newest session matching `filters`, once it is closed. */
async function lastClosed(admin: Identity, filters: string[]): Promise<ApiSession> {
  return await waitFor(async () => {
    const [s] = await sessions(admin, [...filters, "--limit", "1"]);
    return s && s.status !== "open" ? s : undefined;
  }, { message: `no closed session for ${filters.join(" ")}` }) as ApiSession;
}

/** End a process the test started on the agent, by its id, if it still runs. */
export function killPid(pid: number): Promise<void> {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
  return Promise.resolve();
}

/** Concatenated data of the events of one kind. */
function textOf(events: ApiEvent[], kind: string): string {
  return events.filter((e) => e.kind === kind).map((e) => e.data ?? "").join("");
}

async function runTool(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Register the audit-trail test for one store. PostgreSQL mode keeps the
 * gateway's data in a throwaway server and is ignored (with the reason
 * printed) where none can run; SQLite mode then only skips the SQL step.
 */
export function auditScenarios(mode: AuditStoreMode): void {
  const ignore = mode === "postgres" && POSTGRES_SKIP_REASON !== undefined;
  if (ignore) console.warn(`audit on PostgreSQL ignored: ${POSTGRES_SKIP_REASON}`);
  Deno.test({
    name: `the audit trail records every session (${mode} store)`,
    ignore,
    fn: (t) => run(t, mode),
  });
}

async function run(t: Deno.TestContext, mode: AuditStoreMode): Promise<void> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    let pg: PostgresServer | undefined;
    if (POSTGRES_SKIP_REASON === undefined) {
      pg = await startPostgres();
      cleanups.push(() => pg!.stop());
    } else {
      console.warn(`PostgreSQL statement recording skipped: ${POSTGRES_SKIP_REASON}`);
    }
    const dataDir = await Deno.makeTempDir({ prefix: "hoop-gw-" });
    cleanups.push(() => Deno.remove(dataDir, { recursive: true }));
    const suffix = crypto.randomUUID().slice(0, 8);
    const gwOpts: StartGatewayOptions = {
      dataDir,
      // Fixed ports: the crash step restarts the gateway on the same addresses.
      ports: { grpc: freePort(), api: freePort(), data: freePort() },
      env: { HOOP_AUDIT_MAX_BYTES: String(AUDIT_MAX_BYTES) },
      databaseUrl: mode === "postgres"
        ? await pg!.createDatabase(`hoop_audit_${suffix}`)
        : undefined,
    };
    let gw: GatewayProcess = await startGateway(gwOpts);
    cleanups.push(() => gw.stop());
    const admin = await signupAdmin(gw);
    const alice = await createUser(gw, admin, "alice@example.com", { groups: ["ops"] });
    const bob = await createUser(gw, admin, "bob@example.com", { groups: ["ops"] });
    const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
      .trim();
    const agent = await startAgent(key);
    cleanups.push(() => agent.stop());
    const connection = (name: string, ...flags: string[]) =>
      hoopOk(
        ["admin", "create", "connection", name, "--agent", "dev", ...flags, "--groups", "ops"],
        {
          env: admin.env,
        },
      );
    await connection("sh", "--command", "sh");
    await connection("py", "--command", "python3 -q");
    let resourceUrl: string | undefined;
    if (pg) {
      resourceUrl = await pg.createUser(`app_${suffix}`, "app-password", `app_${suffix}`);
      await connection("pg", "--postgres", resourceUrl);
    }

    await t.step("exec records input, stdout, stderr, exit code and byte counts", async () => {
      const input = "echo out-line; echo err-line >&2; exit 3\n";
      const r = await hoop(["exec", "sh", "-i", input], { env: alice.env });
      assert.equal(r.code, 3);
      assert.equal(r.stdout, "out-line\n");
      assert.equal(r.stderr, "err-line\n");
      await hoopOk(["exec", "sh", "-i", "echo from-bob"], { env: bob.env });

      const s = await lastClosed(admin, ["--user", "alice@example.com"]);
      assert.equal(s.user, "alice@example.com");
      assert.equal(s.connection, "sh");
      assert.equal(s.type, "command");
      assert.equal(s.agent, "dev");
      assert.equal(s.verb, "exec");
      assert.equal(s.status, "done");
      assert.equal(s.exit_code, 3);
      assert.equal(s.bytes_in, input.length);
      assert.equal(s.bytes_out, "out-line\n".length + "err-line\n".length);
      assert.equal(s.truncated, false);
      assert.ok(s.ended_at && Date.parse(s.ended_at) >= Date.parse(s.started_at));

      const { events } = await session(admin, s.id);
      assert.equal(textOf(events, "i"), input);
      assert.equal(textOf(events, "o"), "out-line\n");
      assert.equal(textOf(events, "e"), "err-line\n");
      assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i));

      const details = (await hoopOk(["admin", "get", "session", s.id], { env: admin.env })).stdout;
      assert.match(details, /^User:\s+alice@example\.com$/m);
      assert.match(details, /^Verb:\s+exec$/m);
      assert.match(details, /^Status:\s+done$/m);
      assert.match(details, /^Exit code:\s+3$/m);
      assert.match(details, /^Truncated:\s+no$/m);
      const eventRows = parseTable(details.slice(details.indexOf("TIME")));
      assert.deepEqual(eventRows.map((e) => e.KIND).sort(), ["e", "i", "o"]);
      assert.ok(eventRows.some((e) => e.KIND === "e" && e.DATA === "err-line\\n"));
    });

    await t.step("a console is recorded and exports as asciicast v2", async () => {
      const pty = spawnHoopInPty(["connect", "py"], { env: alice.env, cols: 100, rows: 30 });
      cleanups.push(() => pty.close(5000));
      await pty.waitFor(">>> ", { timeoutMs: 30_000 });
      const mark = pty.mark();
      await pty.type("print(6*7)\r");
      await pty.waitFor(/^42$/m, { since: mark });
      pty.resize(120, 40);
      // SIGWINCH reaches hoop asynchronously: ask again until the new width shows.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const asked = pty.mark();
        await pty.type("import shutil; print(shutil.get_terminal_size().columns * 1000)\r");
        const m = await pty.waitFor(/^(\d+)000$/m, { since: asked });
        if (m[1] === "120") break;
        assert.ok(Date.now() < deadline, `the width stayed ${m[1]}`);
      }
      await pty.type("exit()\r");
      assert.equal((await pty.close()).code, 0);

      const s = await lastClosed(admin, ["--connection", "py"]);
      assert.equal(s.verb, "console");
      assert.equal(s.status, "done");
      assert.equal(s.exit_code, 0);
      assert.equal(s.user, "alice@example.com");
      assert.ok(s.bytes_in >= "print(6*7)\r".length && s.bytes_out > 0);

      const file = join(gw.dataDir, "console.cast");
      const r = await hoopOk(["admin", "get", "session", s.id, "--cast", file], {
        env: admin.env,
      });
      assert.equal(r.stdout, "");
      const lines = (await Deno.readTextFile(file)).trimEnd().split("\n");
      const header = JSON.parse(lines[0]);
      assert.equal(header.version, 2);
      assert.equal(header.width, 100);
      assert.equal(header.height, 30);
      const frames = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
      assert.ok(frames.length > 0);
      let last = 0;
      for (const f of frames) {
        assert.equal(f.length, 3);
        assert.equal(typeof f[0], "number");
        assert.ok(f[0] >= last, "event times go backwards");
        last = f[0];
        assert.ok(["o", "i", "r"].includes(f[1]), `unexpected event code ${f[1]}`);
        assert.equal(typeof f[2], "string");
      }
      const output = frames.filter((f) => f[1] === "o").map((f) => f[2]).join("");
      assert.match(output, /\r?\n42\r?\n/);
      assert.match(frames.filter((f) => f[1] === "i").map((f) => f[2]).join(""), /print\(6\*7\)/);
      assert.ok(
        frames.some((f) => f[1] === "r" && f[2] === "120x40"),
        "the resize is not recorded",
      );
    });

    await t.step({
      name: "PostgreSQL statements of both query protocols are recorded",
      ignore: !pg,
      fn: async () => {
        const init = await runTool("pgbench", ["-i", "-q", "-s", "1", resourceUrl!], {});
        assert.equal(init.code, 0, init.stderr);
        const tunnel = await startConnect("pg", { env: alice.env });
        cleanups.push(() => tunnel.stop());
        const pgEnv = { PGPASSWORD: "anything", PGCONNECT_TIMEOUT: "10" };
        const where = ["-h", "127.0.0.1", "-p", String(tunnel.port), "-U", "someone"];
        const psql = await runTool(
          "psql",
          [...where, "-d", "app", "-X", "-A", "-t", "-c", "select 'simple-' || 40 + 2"],
          pgEnv,
        );
        assert.equal(psql.code, 0, psql.stderr);
        assert.equal(psql.stdout.trim(), "simple-42");
        const bench = await runTool(
          "pgbench",
          [...where, "-M", "extended", "-n", "-t", "5", "-c", "1", "app"],
          pgEnv,
        );
        assert.equal(bench.code, 0, bench.stderr);
        assert.match(bench.stdout, /number of transactions actually processed: 5\/5/);
        await tunnel.stop();

        const closed = await waitFor(async () => {
          const list = await sessions(admin, ["--connection", "pg"]);
          return list.length >= 2 && list.every((s) => s.status !== "open") ? list : undefined;
        }, { message: "the pg sessions were not closed" }) as ApiSession[];
        const sql: string[] = [];
        for (const s of closed) {
          assert.equal(s.verb, "connect");
          assert.equal(s.status, "done");
          assert.equal(s.user, "alice@example.com");
          assert.equal(s.type, "postgres");
          assert.ok(s.bytes_in > 0 && s.bytes_out > 0);
          const { events } = await session(admin, s.id);
          for (const e of events) {
            if (e.kind === "sql") {
              assert.ok(Number.isFinite(Date.parse(String(e.time))));
              sql.push(e.data ?? "");
            }
          }
        }
        assert.ok(sql.includes("select 'simple-' || 40 + 2"), `no simple query in ${sql}`);
        const updates = sql.filter((q) => q.startsWith("UPDATE pgbench_accounts"));
        assert.equal(updates.length, 5, `recorded statements:\n${sql.join("\n")}`);
        for (const u of updates) {
          assert.match(u, /WHERE aid = \$2;?\n-- params: \["-?\d+","\d+"\]$/);
        }
      },
    });

    await t.step("get sessions filters by user, connection and count", async () => {
      const all = await sessions(admin);
      assert.ok(all.length >= 3);
      const times = all.map((s) => Date.parse(s.started_at));
      assert.deepEqual(times, [...times].sort((a, b) => b - a), "not newest first");

      const bobs = await sessions(admin, ["--user", "Bob@Example.com"]);
      assert.equal(bobs.length, 1);
      assert.equal(bobs[0].user, "bob@example.com");
      assert.equal(bobs[0].exit_code, 0);

      const consoles = await sessions(admin, ["--connection", "py"]);
      assert.deepEqual(consoles.map((s) => s.verb), ["console"]);
      const both = await sessions(admin, ["--user", "bob@example.com", "--connection", "py"]);
      assert.deepEqual(both, []);

      const two = await sessions(admin, ["--limit", "2"]);
      assert.deepEqual(two.map((s) => s.id), all.slice(0, 2).map((s) => s.id));

      const table = parseTable(
        (await hoopOk(
          ["admin", "get", "sessions", "--connection", "sh"],
          { env: admin.env },
        )).stdout,
      );
      assert.deepEqual(
        table.map((r) => [r.USER, r.CONNECTION, r.VERB, r.STATUS]),
        [["bob@example.com", "sh", "exec", "done"], ["alice@example.com", "sh", "exec", "done"]],
      );

      const denied = await hoop(["admin", "get", "sessions"], { env: alice.env });
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /needs the admin role/);
      const bad = await hoop(["admin", "get", "sessions", "--limit", "0"], { env: admin.env });
      assert.equal(bad.code, 2);
    });

    await t.step("recording past HOOP_AUDIT_MAX_BYTES is cut and flagged truncated", async () => {
      const r = await hoopOk(["exec", "sh", "-i", "head -c 40000 /dev/zero | tr '\\0' x"], {
        env: alice.env,
      });
      assert.equal(r.stdout, "x".repeat(40000), "the client must get all output");

      const s = await lastClosed(admin, ["--user", "alice@example.com", "--connection", "sh"]);
      assert.equal(s.truncated, true);
      assert.equal(s.status, "done");
      assert.equal(s.bytes_out, 40000, "byte counts go on past the cap");
      const { session: detail, events } = await session(admin, s.id);
      assert.equal(detail.truncated, true);
      const recorded = events.filter((e) => e.kind !== "info")
        .reduce((n, e) => n + (e.data ?? "").length, 0);
      assert.equal(recorded, AUDIT_MAX_BYTES);
      assert.ok(
        events.some((e) => e.kind === "info" && /truncated at 16384 bytes/.test(e.data ?? "")),
      );
      const details = (await hoopOk(["admin", "get", "session", s.id], { env: admin.env })).stdout;
      assert.match(details, /^Truncated:\s+yes$/m);
      const listed = await hoopOk(["admin", "get", "sessions", "--connection", "sh"], {
        env: admin.env,
      });
      const row = parseTable(listed.stdout).find((r) => r.ID === s.id);
      assert.equal(row?.TRUNCATED, "yes", "get sessions shows the cut");
    });

    await t.step("a session survives a gateway crash with its events, marked error", async () => {
      const exec = spawnHoop("alice exec", [
        "exec",
        "sh",
        "-i",
        "echo before-crash $$; exec sleep 60",
      ], { env: alice.env });
      cleanups.push(() => exec.stop());
      const pid = Number((await exec.log.waitFor(/before-crash (\d+)/))[1]);
      // The agent does not stop an exec whose stdin has ended when its session is cut.
      cleanups.push(() => killPid(pid));
      const [live] = await sessions(admin, ["--user", "alice@example.com", "--limit", "1"]);
      assert.equal(live.status, "open");
      await waitFor(
        async () => /before-crash/.test(textOf((await session(admin, live.id)).events, "o")),
        {
          message: "the output was never recorded",
        },
      );

      gw.kill("SIGKILL");
      await gw.status;
      const st = await exec.status;
      assert.equal(st.code, 255, "hoop exec must fail when the gateway dies");

      gw = await startGateway({ ...gwOpts, name: "gateway (restarted)" });
      const { session: after, events } = await session(admin, live.id);
      assert.equal(after.status, "error");
      assert.match(after.error ?? "", /gateway stopped/);
      assert.ok(after.ended_at);
      assert.equal(textOf(events, "o"), `before-crash ${pid}\n`);
      assert.match(textOf(events, "i"), /echo before-crash/);
      // Sessions closed before the crash are untouched.
      const bobs = await sessions(admin, ["--user", "bob@example.com"]);
      assert.equal(bobs[0].status, "done");
    });
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }
}

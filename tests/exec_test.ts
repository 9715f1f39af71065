/**
 * `hoop exec`: one-shot commands and SQL through a standard agent. The
 * remote command's stdout and stderr stay separate and its exit code becomes
 * hoop's; hoop's own failures exit 255 with one line on stderr.
 */
import assert from "node:assert/strict";
import {
  hoop,
  hoopOk,
  type Identity,
  signupAdmin,
  spawnHoop,
  startAgent,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, startPostgres } from "./_postgres.ts";

if (POSTGRES_SKIP_REASON) console.warn(`exec_test: SQL steps skipped: ${POSTGRES_SKIP_REASON}`);

async function createConnection(admin: Identity, name: string, flags: string[]): Promise<void> {
  await hoopOk(["admin", "create", "connection", name, "--agent", "dev", ...flags], {
    env: admin.env,
  });
}

/** hoop's own failure: exit 255 and one line (plus an optional hint) on stderr. */
function assertHoopFailure(r: { code: number; stdout: string; stderr: string }, re: RegExp) {
  assert.equal(r.code, 255, `stderr: ${r.stderr}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.match(lines[0], re);
  assert.ok(lines.slice(1).every((l) => l.startsWith("Hint: ")), r.stderr);
}

Deno.test("hoop exec runs commands and SQL once through an agent", async (t) => {
  const pg = POSTGRES_SKIP_REASON ? undefined : await startPostgres();
  const gw = await startGateway();
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
      .trim();
    const agent = await startAgent(key);
    cleanup.push(() => agent.stop());
    await createConnection(admin, "sh", ["--command", "sh"]);
    await createConnection(admin, "py", ["--command", "python3"]);
    if (pg) {
      const url = await pg.createUser("app", "app-pw-42", "app");
      await createConnection(admin, "pg", ["--postgres", url]);
    }
    const env = admin.env;

    await t.step("-i: stdout and stderr stay apart and the exit code comes back", async () => {
      const r = await hoop(["exec", "sh", "-i", "echo out; echo err >&2; echo more; exit 7"], {
        env,
      });
      assert.equal(r.code, 7, r.stderr);
      assert.equal(r.stdout, "out\nmore\n");
      assert.equal(r.stderr, "err\n");
    });

    await t.step("-f FILE: the file is the command's input", async () => {
      const file = await Deno.makeTempFile({ suffix: ".sh" });
      try {
        await Deno.writeTextFile(file, "printf 'a\\nb\\n'\necho oops >&2\n");
        const r = await hoop(["exec", "sh", "-f", file], { env });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "a\nb\n");
        assert.equal(r.stderr, "oops\n");
      } finally {
        await Deno.remove(file);
      }
    });

    await t.step("standard input: a python script and sys.exit(3)", async () => {
      const r = await hoop(["exec", "py"], {
        env,
        stdin: 'import sys\nprint(6*7)\nprint("to stderr", file=sys.stderr)\nsys.exit(3)\n',
      });
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, "42\n");
      assert.equal(r.stderr, "to stderr\n");
    });

    await t.step("large outputs on both streams arrive whole", async () => {
      const r = await hoop([
        "exec",
        "py",
        "-i",
        'import sys\nsys.stdout.write("x" * 3000000)\nsys.stderr.write("y" * 200000)\n',
      ], { env });
      assert.equal(r.code, 0, r.stderr.slice(0, 500));
      assert.equal(r.stdout.length, 3_000_000);
      assert.ok(/^x+$/.test(r.stdout));
      assert.equal(r.stderr, "y".repeat(200_000));
    });

    await t.step({
      name: "SQL: table, -o json and -o csv",
      ignore: !pg,
      fn: async () => {
        const sql = "select 1 as n, 'a,b' as s, null as z, current_user as who";
        const table = await hoopOk(["exec", "pg", "-i", sql], { env });
        assert.match(table.stdout, /^\s*n \|\s+s\s+\|\s+z\s+\|\s+who\s*$/m);
        assert.match(table.stdout, /\(1 row\)/);

        const json = await hoopOk(["exec", "pg", "-i", sql, "-o", "json"], { env });
        assert.deepEqual(JSON.parse(json.stdout), [{ n: 1, s: "a,b", z: null, who: "app" }]);

        const csv = await hoopOk(["exec", "pg", "-i", sql, "-o", "csv"], { env });
        assert.equal(csv.stdout, 'n,s,z,who\n1,"a,b",,app\n');

        const many = await hoopOk([
          "exec",
          "pg",
          "-i",
          "select g from generate_series(1, 3) g",
          "-o",
          "csv",
        ], { env });
        assert.equal(many.stdout, "g\n1\n2\n3\n");
      },
    });

    await t.step({
      name: "SQL: a server error exits non-zero with the server's message",
      ignore: !pg,
      fn: async () => {
        const r = await hoop(["exec", "pg", "-i", "select * from no_such_table"], { env });
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /relation "no_such_table" does not exist/);
        assert.ok(!r.stderr.includes("app-pw-42"));
      },
    });

    await t.step("an unknown connection: exit 255 and one line", async () => {
      const r = await hoop(["exec", "nope", "-i", "true"], { env, timeoutMs: 15_000 });
      assertHoopFailure(r, /^hoop: Unknown connection "nope"$/);
    });

    await t.step("the agent is killed mid-command: hoop fails instead of hanging", async () => {
      // exec keeps the pid: the sleep is the shell's $$, and the test can end it afterwards.
      const p = spawnHoop("exec sleep", ["exec", "sh", "-i", "echo started $$; exec sleep 30"], {
        env,
      });
      cleanup.push(() => p.stop());
      const pid = Number((await p.log.waitFor(/started (\d+)/))[1]);
      cleanup.push(() => {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
        return Promise.resolve();
      });
      agent.kill("SIGKILL");
      // sleep 30 would end by itself: a hang shows up as exit 0 after 30 s.
      const status = await p.status;
      assert.equal(status.code, 255, p.log.text);
      assert.match(
        p.log.text,
        /^hoop: the session ended without an exit code: the agent or gateway went away$/m,
      );
    });

    await t.step("the agent is offline: exit 255 and one line", async () => {
      await waitFor(async () => {
        const r = await hoopOk(["admin", "get", "agents", "-o", "json"], { env });
        const rows = JSON.parse(r.stdout) as { name: string; status: string }[];
        return rows.find((a) => a.name === "dev")?.status === "OFFLINE";
      }, { message: "agent dev never went OFFLINE" });
      const r = await hoop(["exec", "sh", "-i", "true"], { env, timeoutMs: 15_000 });
      assertHoopFailure(r, /^hoop: Cannot use connection "sh": agent "dev" is offline$/);
    });
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    await gw.stop();
    await pg?.stop();
  }
});

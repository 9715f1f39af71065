/**
 * `hoop run`: an embedded agent publishing one connection, optionally beside
 * an application whose exit code and signals it passes through.
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

async function agentStatus(admin: Identity, name: string): Promise<string | undefined> {
  const r = await hoopOk(["admin", "get", "agents", "-o", "json"], { env: admin.env });
  return (JSON.parse(r.stdout) as { name: string; status: string }[])
    .find((a) => a.name === name)?.status;
}

Deno.test("hoop run publishes a connection beside an application", async (t) => {
  const gw = await startGateway();
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
    const env = { HOOP_KEY: key };

    await t.step("hoop run exits with the application's exit code", async () => {
      const r = await hoop(
        ["run", "--name", "app7", "--command", "sh", "--", "sh", "-c", "exit 7"],
        {
          env,
        },
      );
      assert.equal(r.code, 7, r.stderr);
    });

    await t.step("SIGTERM reaches the application; the agent goes with it", async () => {
      const run = spawnHoop("run app", [
        "run",
        "--name",
        "app",
        "--command",
        "sh",
        "--",
        "sleep",
        "30",
      ], {
        env,
      });
      cleanup.push(() => run.stop());
      await run.log.waitFor(/connected to the gateway/);
      // While the application runs, the connection is served.
      const r = await hoopOk(["exec", "app", "-i", "echo served"], { env: admin.env });
      assert.equal(r.stdout, "served\n");
      assert.equal(await agentStatus(admin, "app"), "ONLINE");

      run.kill("SIGTERM");
      const status = await run.status;
      // sleep dies of the forwarded SIGTERM: 128 + 15, as a shell reports it.
      assert.equal(status.code, 143, run.log.text);
      await waitFor(async () => await agentStatus(admin, "app") === "OFFLINE", {
        message: "the embedded agent still shows ONLINE after hoop run exited",
      });
    });

    await t.step("an application that cannot start: exit 255 and one line", async () => {
      const r = await hoop(
        ["run", "--name", "nobin", "--command", "sh", "--", "no-such-binary-x"],
        {
          env,
        },
      );
      assert.equal(r.code, 255);
      assert.equal(
        r.stderr,
        'hoop: Cannot start application "no-such-binary-x": command not found\n',
      );
    });

    await t.step("a name owned by another agent is refused", async () => {
      const devKey = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
        .trim();
      const dev = await startAgent(devKey);
      cleanup.push(() => dev.stop());
      await hoopOk(
        ["admin", "create", "connection", "taken", "--agent", "dev", "--command", "sh"],
        {
          env: admin.env,
        },
      );
      const r = await hoop(["run", "--name", "taken", "--command", "sh"], {
        env,
        timeoutMs: 20_000,
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /^hoop: Cannot publish connection "taken": another agent serves a connection with that name$/m,
      );
      assert.match(r.stderr, /^Hint: choose another --name/m);
      assert.doesNotMatch(r.stderr, /hoop: unauthorized/);

      const same = await hoop(["run", "--name", "dev", "--command", "sh"], {
        env,
        timeoutMs: 20_000,
      });
      assert.equal(same.code, 1, same.stderr);
      assert.match(
        same.stderr,
        /^hoop: Cannot publish connection "dev": the name belongs to agent "dev"$/m,
      );
      // The standard agent and its connection are untouched.
      assert.equal(await agentStatus(admin, "dev"), "ONLINE");
      const exec = await hoopOk(["exec", "taken", "-i", "echo still-dev"], { env: admin.env });
      assert.equal(exec.stdout, "still-dev\n");
    });

    await t.step(
      "a second hoop run with the same name replaces the first, which stops",
      async () => {
        const first = spawnHoop("run dup 1", ["run", "--name", "dup", "--command", "sh"], { env });
        cleanup.push(() => first.stop());
        await first.log.waitFor(/connected to the gateway/);
        const second = spawnHoop("run dup 2", ["run", "--name", "dup", "--command", "sh"], { env });
        cleanup.push(() => second.stop());
        await second.log.waitFor(/connected to the gateway/);
        // The replaced one yields instead of reconnecting and knocking the other off.
        const status = await first.status;
        assert.equal(status.code, 1, first.log.text);
        assert.match(first.log.text, /another agent connected as "dup" and replaced this one/);
        assert.equal(second.hasExited(), false);
        const r = await hoopOk(["exec", "dup", "-i", "echo from-second"], { env: admin.env });
        assert.equal(r.stdout, "from-second\n");
        assert.doesNotMatch(second.log.text, /disconnected/);
      },
    );

    await t.step("a malformed --postgres URI: exit 2, the problem named, no password", async () => {
      const cases: [string, RegExp][] = [
        ["postgres://app:s3cret-pw@127.0.0.1:notaport/db", /not a valid URI/],
        ["mysql://app:s3cret-pw@127.0.0.1/db", /scheme is not "postgres:\/\/"/],
        ["app:s3cret-pw@127.0.0.1/db", /scheme is not "postgres:\/\/"/],
      ];
      for (const [uri, why] of cases) {
        const r = await hoop(["run", "--name", "bad", "--postgres", uri], { env });
        assert.equal(r.code, 2, `${uri}: ${r.stderr}`);
        const first = r.stderr.split("\n")[0];
        assert.match(first, /^hoop: Cannot use PostgreSQL URI "[^"]*":/);
        assert.match(first, why);
        assert.ok(!r.stderr.includes("s3cret-pw"), `the password was echoed: ${r.stderr}`);
      }
    });
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    await gw.stop();
  }
});

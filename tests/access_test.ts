/**
 * Users and access control, end to end: accounts made by an admin, groups
 * that decide who sees and uses a connection, nothing reaching the agent on
 * a refusal, a deleted user cut off at once (token and live sessions), and
 * a change of a connection's groups or its deletion ending the sessions it
 * no longer allows.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createUser,
  type GatewayProcess,
  hoop,
  hoopOk,
  type HoopProcess,
  type Identity,
  parseTable,
  signupAdmin,
  spawnHoop,
  startAgent,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { type PtyDriver, spawnHoopInPty } from "./_pty_driver.ts";
import { killPid } from "./_audit_scenarios.ts";

interface ApiUser {
  id: string;
  email: string;
  role: string;
  groups: string[];
  created_at: string;
}

interface ApiSession {
  id: string;
  user: string;
  connection: string;
  verb: string;
  status: string;
  exit_code: number | null;
  error: string | null;
}

/** The token `hoop login` saved for an identity. */
async function savedToken(id: Identity): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(join(id.env.HOOP_HOME, "config.json")));
  assert.ok(config.token, "hoop login saved no token");
  return config.token;
}

/** Files the marker command created: one per run of the connection's command on the agent. */
function markers(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name);
}

/** The promise's value, or `undefined` when it takes longer than `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("users, groups and access: who may use what, and a deleted user is cut off", async (t) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  let gw: GatewayProcess | undefined;
  try {
    gw = await startGateway();
    cleanups.push(() => gw!.stop());
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
      .trim();
    // Debug logs name every session the agent serves (`sid=`): the proof that none arrived.
    const agent = await startAgent(key, { env: { HOOP_LOG_LEVEL: "debug" } });
    cleanups.push(() => agent.stop());

    const markerDir = await Deno.makeTempDir({ prefix: "hoop-marker-" });
    cleanups.push(() => Deno.remove(markerDir, { recursive: true }));
    await hoopOk([
      "admin",
      "create",
      "connection",
      "secret",
      "--agent",
      "dev",
      "--command",
      `sh -c "touch ${markerDir}/ran-$$; cat"`,
      "--groups",
      "g1",
    ], { env: admin.env });
    await hoopOk(
      [
        "admin",
        "create",
        "connection",
        "shared",
        "--agent",
        "dev",
        "--command",
        "sh",
        "--groups",
        "g2",
      ],
      { env: admin.env },
    );

    let alice: Identity | undefined;
    let bob: Identity | undefined;

    await t.step("create user prints a one-time password that works for hoop login", async () => {
      const r = await hoopOk(
        ["admin", "create", "user", "Carol@Example.com", "--role", "user", "--groups", "g1,ops"],
        { env: admin.env },
      );
      const lines = r.stdout.split("\n").filter((l) => l !== "");
      assert.equal(lines.length, 1, `stdout must hold only the password, got ${r.stdout}`);
      const password = lines[0].trim();
      assert.ok(password.length >= 12, "generated password is short");
      assert.match(r.stderr, /Created user "Carol@Example.com"/);
      assert.ok(!r.stderr.includes(password), "the password leaked to stderr");

      const home = await Deno.makeTempDir({ prefix: "hoop-home-" });
      const env = { ...gw!.env, HOOP_HOME: home };
      const bad = await hoop(["login", "--email", "carol@example.com", "--password-stdin"], {
        env,
        stdin: "not-the-password\n",
      });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /wrong email or password/);
      await hoopOk(["login", "--email", "carol@example.com", "--password-stdin"], {
        env,
        stdin: password + "\n",
      });
      const conns = parseTable((await hoopOk(["admin", "get", "connections"], { env })).stdout);
      assert.deepEqual(conns.map((c) => c.NAME), ["secret"]);
    });

    await t.step("create user --password-stdin prints nothing on stdout", async () => {
      const r = await hoopOk(
        ["admin", "create", "user", "dave@example.com", "--groups", "g2", "--password-stdin"],
        { env: admin.env, stdin: "dave-password-1\n" },
      );
      assert.equal(r.stdout, "");
      const home = await Deno.makeTempDir({ prefix: "hoop-home-" });
      await hoopOk(["login", "--email", "dave@example.com", "--password-stdin"], {
        env: { ...gw!.env, HOOP_HOME: home },
        stdin: "dave-password-1\n",
      });
      alice = await createUser(gw!, admin, "alice@example.com", { groups: ["g1"] });
      bob = await createUser(gw!, admin, "bob@example.com", { groups: ["g2"] });
    });

    await t.step("get users lists accounts as a table and as JSON", async () => {
      const rows = parseTable((await hoopOk(["admin", "get", "users"], { env: admin.env })).stdout);
      const byEmail = new Map(rows.map((r) => [r.EMAIL, r]));
      assert.equal(byEmail.get("admin@example.com")?.ROLE, "admin");
      assert.equal(byEmail.get("carol@example.com")?.ROLE, "user");
      assert.equal(byEmail.get("carol@example.com")?.GROUPS, "g1,ops");
      assert.equal(byEmail.get("bob@example.com")?.GROUPS, "g2");
      assert.equal(rows.length, 5);

      const out = (await hoopOk(["admin", "get", "users", "-o", "json"], { env: admin.env }))
        .stdout;
      const users = JSON.parse(out) as ApiUser[];
      const carolJson = users.find((u) => u.email === "carol@example.com");
      assert.deepEqual(carolJson?.groups, ["g1", "ops"]);
      assert.equal(carolJson?.role, "user");
      assert.ok(carolJson?.id && carolJson.created_at);
      assert.ok(!/password|hash/i.test(out), "user JSON exposes password material");

      // A user is not an admin: the user list is refused.
      const denied = await hoop(["admin", "get", "users"], { env: alice!.env });
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /needs the admin role/);
    });

    await t.step("a duplicate user is refused", async () => {
      const r = await hoop(["admin", "create", "user", "CAROL@example.com", "--groups", "g9"], {
        env: admin.env,
      });
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /Cannot create user "carol@example.com": .*already exists/);
    });

    await t.step("a user outside the groups neither sees nor reaches the connection", async () => {
      const bobConns = parseTable(
        (await hoopOk(["admin", "get", "connections"], { env: bob!.env })).stdout,
      );
      assert.deepEqual(bobConns.map((c) => c.NAME), ["shared"]);

      const connect = await hoop(["connect", "secret", "-p", "0"], { env: bob!.env });
      assert.notEqual(connect.code, 0);
      assert.match(connect.stderr, /Access denied to connection "secret"/);

      const exec = await hoop(["exec", "secret", "-i", "hello"], { env: bob!.env });
      assert.equal(exec.code, 255);
      assert.equal(exec.stdout, "");
      assert.match(exec.stderr, /Access denied to connection "secret"/);

      // A client that skips the CLI's checks and asks for a session directly is refused too.
      for (const verb of ["exec", "console"]) {
        const res = await fetch(`${gw!.apiUrl}/api/sessions`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${await savedToken(bob!)}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({ connection: "secret", verb }),
        });
        const body = await res.json();
        assert.equal(res.status, 403);
        assert.equal(body.error.code, "permission_denied");
        assert.match(body.error.message, /Access denied/);
      }

      // Nothing reached the agent: no command ran, the agent served no session, none recorded.
      assert.deepEqual(markers(markerDir), []);
      assert.doesNotMatch(agent.log.text, /sid=/);
      const sessions = JSON.parse(
        (await hoopOk(["admin", "get", "sessions", "-o", "json"], { env: admin.env })).stdout,
      ) as ApiSession[];
      assert.deepEqual(sessions, []);
    });

    await t.step("a user in the connection's group and an admin may use it", async () => {
      const r = await hoopOk(["exec", "secret", "-i", "hello from alice"], { env: alice!.env });
      assert.equal(r.stdout, "hello from alice");
      assert.equal(markers(markerDir).length, 1);
      await waitFor(() => /exec exited.*sid=|sid=.*exec exited/.test(agent.log.text), {
        message: "the agent never logged the allowed session",
      });

      const adminConns = parseTable(
        (await hoopOk(["admin", "get", "connections"], { env: admin.env })).stdout,
      );
      assert.deepEqual(adminConns.map((c) => c.NAME).sort(), ["secret", "shared"]);
      const a = await hoopOk(["exec", "secret", "-i", "hello from admin"], { env: admin.env });
      assert.equal(a.stdout, "hello from admin");
      assert.equal(markers(markerDir).length, 2);
    });

    // bob's sessions of the logout step, left out of the next step's count.
    const loggedOutStep = new Set<string>();
    await t.step(
      "hoop logout ends the sessions its token opened; another login's run on",
      async () => {
        const home = await Deno.makeTempDir({ prefix: "hoop-home-" });
        cleanups.push(() => Deno.remove(home, { recursive: true }));
        const second = { ...bob!.env, HOOP_HOME: home };
        await hoopOk(["login", "--email", bob!.email, "--password-stdin"], {
          env: second,
          stdin: bob!.password + "\n",
        });
        const exec: HoopProcess = spawnHoop("bob exec", [
          "exec",
          "shared",
          "-i",
          "echo exec-started $$; exec sleep 60",
        ], { env: second });
        cleanups.push(() => exec.stop());
        const pid = Number((await exec.log.waitFor(/exec-started (\d+)/))[1]);
        cleanups.push(() => killPid(pid));
        const pty: PtyDriver = spawnHoopInPty(["connect", "shared"], { env: bob!.env });
        cleanups.push(() => pty.close(5000));
        await pty.type("echo before-$((6*7))\r");
        await pty.waitFor("before-42");

        await hoopOk(["logout"], { env: second });

        const execStatus = await within(exec.status, 10_000);
        assert.ok(execStatus, "the exec did not end when the token that opened it was revoked");
        assert.notEqual(execStatus.code, 0);
        // The console of bob's other login is untouched: it still answers.
        await pty.type("echo after-$((6*7))\r");
        await pty.waitFor("after-42");
        await pty.type("exit\r");
        const ptyStatus = await pty.close(10_000);
        assert.equal(ptyStatus.signal, null, "the console did not end at exit");
        assert.equal(ptyStatus.code, 0);

        const sessions = await waitFor(async () => {
          const list = JSON.parse(
            (await hoopOk(
              ["admin", "get", "sessions", "--user", bob!.email, "-o", "json"],
              { env: admin.env },
            )).stdout,
          ) as ApiSession[];
          return list.length === 2 && list.every((s) => s.status !== "open") ? list : undefined;
        }, { message: "bob's sessions were not closed" }) as ApiSession[];
        for (const s of sessions) loggedOutStep.add(s.id);
        const cut = sessions.find((s) => s.verb === "exec");
        assert.equal(cut?.status, "error");
        assert.match(cut?.error ?? "", /token was revoked: its user logged out/);
        const kept = sessions.find((s) => s.verb === "console");
        assert.equal(kept?.status, "done", "the other login's console was cut");
      },
    );

    await t.step("deleting a user revokes their token and ends their live sessions", async () => {
      // A long exec and an interactive console, both bob's.
      const exec: HoopProcess = spawnHoop("bob exec", [
        "exec",
        "shared",
        "-i",
        "echo exec-started $$; exec sleep 60",
      ], { env: bob!.env });
      cleanups.push(() => exec.stop());
      const pid = Number((await exec.log.waitFor(/exec-started (\d+)/))[1]);
      // The agent does not stop an exec whose stdin has ended when its session is cut.
      cleanups.push(() => killPid(pid));
      const pty: PtyDriver = spawnHoopInPty(["connect", "shared"], { env: bob!.env });
      cleanups.push(() => pty.close(5000));
      await pty.type("echo console-$((6*7))\r");
      await pty.waitFor("console-42");

      await hoopOk(["admin", "delete", "user", "bob@example.com"], { env: admin.env });

      const execStatus = await within(exec.status, 10_000);
      assert.ok(execStatus, "bob's exec did not end after the user was deleted");
      assert.notEqual(execStatus.code, 0);
      const ptyStatus = await pty.close(10_000);
      assert.notEqual(ptyStatus.code, 0);
      assert.equal(ptyStatus.signal, null, "the console was killed, it did not end by itself");

      const get = await hoop(["admin", "get", "connections"], { env: bob!.env });
      assert.equal(get.code, 1);
      assert.match(get.stderr, /token is not valid|no longer exists|Not logged in/i);
      const again = await hoop(["exec", "shared", "-i", "echo hi"], { env: bob!.env });
      assert.equal(again.code, 255);
      assert.equal(again.stdout, "");
      assert.match(again.stderr, /token is not valid|no longer exists|Not logged in/i);
      assert.match(again.stderr, /hoop login/);

      // The cut sessions are recorded as errors with the reason.
      const sessions = await waitFor(async () => {
        const list = JSON.parse(
          (await hoopOk(
            ["admin", "get", "sessions", "--user", "bob@example.com", "-o", "json"],
            { env: admin.env },
          )).stdout,
        ).filter((s: ApiSession) => !loggedOutStep.has(s.id)) as ApiSession[];
        return list.length === 2 && list.every((s) => s.status !== "open") ? list : undefined;
      }, { message: "bob's sessions were not closed" }) as ApiSession[];
      assert.deepEqual(sessions.map((s) => s.verb).sort(), ["console", "exec"]);
      for (const s of sessions) {
        assert.equal(s.status, "error");
        assert.match(s.error ?? "", /bob@example.com.*deleted/);
      }
      const users = parseTable(
        (await hoopOk(["admin", "get", "users"], { env: admin.env })).stdout,
      );
      assert.ok(!users.some((u) => u.EMAIL === "bob@example.com"));
      const gone = await hoop(["admin", "delete", "user", "bob@example.com"], { env: admin.env });
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /Cannot delete user "bob@example.com": no user with that email/);
      const self = await hoop(["admin", "delete", "user", "admin@example.com"], { env: admin.env });
      assert.equal(self.code, 1);
      assert.match(self.stderr, /Cannot delete user "admin@example.com": that is you/);
    });

    await t.step(
      "taking a group off a connection ends the consoles it no longer lets in; deleting it ends the rest",
      async () => {
        const erin = await createUser(gw!, admin, "erin@example.com", { groups: ["g2"] });
        await hoopOk(
          ["admin", "create", "connection", "rotating", "--agent", "dev", "--command", "sh"],
          { env: admin.env },
        );
        await hoopOk(["admin", "update", "connection", "rotating", "--groups", "g1,g2"], {
          env: admin.env,
        });
        // alice (g1) and erin (g2) each hold a console on it.
        const alicePty = spawnHoopInPty(["connect", "rotating"], { env: alice!.env });
        cleanups.push(() => alicePty.close(5000));
        const erinPty = spawnHoopInPty(["connect", "rotating"], { env: erin.env });
        cleanups.push(() => erinPty.close(5000));
        for (const pty of [alicePty, erinPty]) {
          await pty.type("echo up-$((6*7))\r");
          await pty.waitFor("up-42");
        }

        await hoopOk(["admin", "update", "connection", "rotating", "--groups", "g2"], {
          env: admin.env,
        });
        const aliceStatus = await alicePty.close(10_000);
        assert.equal(aliceStatus.signal, null, "alice's console was killed, it did not end");
        assert.notEqual(aliceStatus.code, 0);
        // erin is still in a group of the connection: her console answers.
        const mark = erinPty.mark();
        await erinPty.type("echo still-$((6*7))\r");
        await erinPty.waitFor("still-42", { since: mark });
        // A new session for alice is refused as well.
        const again = await hoop(["exec", "rotating", "-i", "echo hi"], { env: alice!.env });
        assert.equal(again.code, 255);
        assert.match(again.stderr, /Access denied to connection "rotating"/);

        await hoopOk(["admin", "delete", "connection", "rotating"], { env: admin.env });
        const erinStatus = await erinPty.close(10_000);
        assert.equal(erinStatus.signal, null, "erin's console was killed, it did not end");
        assert.notEqual(erinStatus.code, 0);

        const sessions = await waitFor(async () => {
          const list = (JSON.parse(
            (await hoopOk(["admin", "get", "sessions", "-o", "json"], { env: admin.env })).stdout,
          ) as ApiSession[]).filter((s) => s.connection === "rotating");
          return list.length === 2 && list.every((s) => s.status !== "open") ? list : undefined;
        }, { message: "the consoles on the changed connection were not closed" }) as ApiSession[];
        const byUser = new Map(sessions.map((s) => [s.user, s]));
        assert.equal(byUser.get("alice@example.com")?.status, "error");
        assert.match(
          byUser.get("alice@example.com")?.error ?? "",
          /access withdrawn: alice@example.com may no longer use connection "rotating"/,
        );
        assert.equal(byUser.get("erin@example.com")?.status, "error");
        assert.match(
          byUser.get("erin@example.com")?.error ?? "",
          /connection "rotating" was deleted/,
        );
      },
    );
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }
});

/**
 * Single sign-on against a real OpenID provider (`npm:oidc-provider`, see
 * tests/_oidc_provider.ts): the CLI's loopback and --no-browser logins, the
 * web console's button, groups from the directory deciding access, and the
 * refusals. The test plays the user's browser with HTTP requests.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { AuthMethods, Connection, UserResponse } from "../proto/api_types.ts";
import { followGateway, signInAtProvider, startProvider } from "./_oidc_provider.ts";
import { POSTGRES_SKIP_REASON, psqlThrough, startPostgres } from "./_postgres.ts";
import {
  freePort,
  type GatewayProcess,
  hoop,
  hoopOk,
  type HoopProcess,
  signupAdmin,
  spawnHoop,
  startAgent,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { killPid } from "./_audit_scenarios.ts";

async function ssoGateway(
  issuer: string,
  clientId: string,
  secret: string,
  args: string[] = [],
  api = freePort(),
) {
  return await startGateway({
    ports: { grpc: freePort(), api, data: freePort() },
    args: [
      "--public-url",
      `http://127.0.0.1:${api}`,
      "--oidc-issuer",
      issuer,
      "--oidc-client-id",
      clientId,
      "--oidc-admin-groups",
      "hoop-admins",
      ...args,
    ],
    env: { HOOP_OIDC_CLIENT_SECRET: secret },
  });
}

/** `hoop login ARGS` as a person would run it; resolves with its stderr once it has exited. */
async function cliLogin(
  gw: GatewayProcess,
  args: string[],
  act: (stderr: () => string) => Promise<void>,
) {
  const home = await Deno.makeTempDir({ prefix: "hoop-home-" });
  // BROWSER=true: "opening the browser" does nothing; the test is the browser.
  const proc = spawnHoop("hoop login", ["login", ...args], {
    env: { ...gw.env, HOOP_HOME: home, BROWSER: "true" },
  });
  try {
    await act(() => proc.log.text);
    // The login is done in the browser: the CLI must now finish, not wait out its own deadline.
    await waitFor(() => proc.hasExited(), { timeoutMs: 60_000, message: "hoop login to exit" });
    const status = await proc.status;
    return { code: status.code, text: proc.log.text, home };
  } finally {
    await proc.stop();
  }
}

async function savedToken(home: string): Promise<string> {
  return JSON.parse(await Deno.readTextFile(join(home, "config.json"))).token;
}

async function visibleConnections(gw: GatewayProcess, token: string): Promise<string[]> {
  const res = await fetch(`${gw.apiUrl}/api/connections`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as Connection[]).map((c) => c.name);
}

async function me(gw: GatewayProcess, token: string): Promise<UserResponse["user"]> {
  const res = await fetch(`${gw.apiUrl}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as UserResponse).user;
}

Deno.test("single sign-on with a real OpenID provider", async (t) => {
  const api = freePort();
  await using provider = await startProvider(`http://127.0.0.1:${api}/api/oidc/callback`);
  await using gw = await startGateway({
    ports: { grpc: freePort(), api, data: freePort() },
    args: [
      "--public-url",
      `http://127.0.0.1:${api}`,
      "--oidc-issuer",
      provider.issuer,
      "--oidc-client-id",
      provider.clientId,
      "--oidc-admin-groups",
      "hoop-admins",
    ],
    env: { HOOP_OIDC_CLIENT_SECRET: provider.clientSecret },
  });
  const admin = await signupAdmin(gw);
  await hoopOk(["admin", "create", "agent", "db-agent"], { env: admin.env });
  await hoopOk(
    ["admin", "create", "connection", "dbshell", "--agent", "db-agent", "--command", "sh"],
    { env: admin.env },
  );
  await hoopOk(["admin", "update", "connection", "dbshell", "--groups", "dba"], { env: admin.env });
  provider.groups.set("alice@example.com", ["dba"]);
  provider.groups.set("bob@example.com", ["web"]);
  provider.groups.set("carol@example.com", ["hoop-admins"]);

  await t.step("the gateway offers password and single sign-on", async () => {
    const methods = (await (await fetch(`${gw.apiUrl}/api/auth/methods`)).json()) as AuthMethods;
    assert.deepEqual(methods.methods, ["password", "oidc"]);
    assert.equal(methods.oidc?.web_login_url, "/api/oidc/web/login");
  });

  let aliceToken = "";
  let loopbackUrl = "";
  await t.step("hoop login: browser on the provider, back on a loopback port", async () => {
    const r = await cliLogin(gw, [], async (stderr) => {
      const start = await waitForUrl(stderr, /visit:\n\s+(\S+)/);
      const callback = await signInAtProvider(start, provider.issuer, "alice@example.com");
      assert.ok(callback.startsWith(`${gw.apiUrl}/api/oidc/callback?`), callback);
      // The gateway sends the browser on to the CLI's loopback port, which says it is done.
      const end = await followGateway(callback);
      assert.match(new URL(end.url).host, /^127\.0\.0\.1:\d+$/);
      assert.match(end.text, /Signed in/);
      loopbackUrl = end.url;
    });
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /Logged in as alice@example\.com/);
    aliceToken = await savedToken(r.home);
  });

  await t.step("the one-time code of the loopback redirect cannot be replayed", async () => {
    const code = new URL(loopbackUrl).searchParams.get("code");
    assert.ok(code, loopbackUrl);
    const replay = await fetch(`${gw.apiUrl}/api/oidc/cli/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code }),
    });
    assert.equal(replay.status, 401);
    const { error } = await replay.json();
    assert.match(error.message, /login code was already used or has expired/);
    assert.match(error.hint, /hoop login/);
  });

  await t.step("a user in dba sees the dba connection; one outside does not", async () => {
    assert.deepEqual(await visibleConnections(gw, aliceToken), ["dbshell"]);
    assert.equal((await me(gw, aliceToken)).role, "user");
    const r = await cliLogin(gw, ["--sso"], async (stderr) => {
      const start = await waitForUrl(stderr, /visit:\n\s+(\S+)/);
      await followGateway(await signInAtProvider(start, provider.issuer, "bob@example.com"));
    });
    assert.equal(r.code, 0, r.text);
    assert.deepEqual(await visibleConnections(gw, await savedToken(r.home)), []);
  });

  await t.step(
    "hoop login --no-browser: a URL and a code for any device, then polling",
    async () => {
      const r = await cliLogin(gw, ["--no-browser"], async (stderr) => {
        const verify = await waitForUrl(stderr, /open this URL in any browser:\n\s+(\S+)/);
        const code = /code ([A-Z2-9]{4}-[A-Z2-9]{4})/.exec(stderr())?.[1];
        assert.ok(code, stderr());
        // The link alone signs nobody in: the page shows the code and asks first.
        const ask = await fetch(verify, { redirect: "manual" });
        assert.equal(ask.status, 200);
        const askText = await ask.text();
        assert.match(askText, new RegExp(`waits for code ${code}`));
        assert.match(askText, /Continue only if you started it yourself/);
        const confirm = (origin: string) =>
          fetch(`${gw.apiUrl}/api/oidc/device`, {
            method: "POST",
            redirect: "manual",
            headers: { origin, "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ user_code: code }).toString(),
          });
        const crossSite = await confirm("https://attacker.example");
        assert.equal(crossSite.status, 403);
        assert.match(
          await crossSite.text(),
          /did not come from this gateway's own page/,
        );
        const confirmed = await confirm(gw.apiUrl);
        await confirmed.body?.cancel();
        assert.equal(confirmed.status, 302);
        const toProvider = confirmed.headers.get("location")!;
        assert.equal(new URL(toProvider).origin, provider.issuer);
        const callback = await signInAtProvider(toProvider, provider.issuer, "carol@example.com");
        const page = await followGateway(callback);
        assert.match(page.text, /Signed in as carol@example\.com/);
      });
      assert.equal(r.code, 0, r.text);
      const token = await savedToken(r.home);
      assert.equal((await me(gw, token)).role, "admin", "hoop-admins members are admins");
    },
  );

  await t.step("a group removed in the directory takes effect at the next login", async () => {
    provider.groups.set("alice@example.com", []);
    const r = await cliLogin(gw, [], async (stderr) => {
      const start = await waitForUrl(stderr, /visit:\n\s+(\S+)/);
      await followGateway(await signInAtProvider(start, provider.issuer, "alice@example.com"));
    });
    assert.equal(r.code, 0, r.text);
    assert.deepEqual(await visibleConnections(gw, await savedToken(r.home)), []);
    const users = JSON.parse(
      (await hoopOk(["admin", "get", "users", "-o", "json"], { env: admin.env })).stdout,
    ) as { email: string; groups: string[] }[];
    assert.deepEqual(users.find((u) => u.email === "alice@example.com")?.groups, []);
  });

  let webCallback = "";
  await t.step("the web console's SSO button ends with a session cookie", async () => {
    const toProvider = await followGateway(
      `${gw.apiUrl}/api/oidc/web/login`,
      (u) => u.origin === provider.issuer,
    );
    webCallback = await signInAtProvider(toProvider.url, provider.issuer, "bob@example.com");
    const res = await fetch(webCallback, { redirect: "manual" });
    await res.body?.cancel();
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "/");
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("hoop_session="));
    assert.ok(cookie, "session cookie set");
    assert.match(cookie, /HttpOnly/i);
    const session = await fetch(`${gw.apiUrl}/api/web/session`, {
      headers: { cookie: cookie.split(";")[0] },
    });
    assert.equal(session.status, 200);
    assert.equal((await session.json()).user.email, "bob@example.com");
  });

  await t.step("a replayed callback and a wrong state are refused with a clear page", async () => {
    const replay = await fetch(webCallback, { redirect: "manual" });
    assert.equal(replay.status, 400);
    assert.match(await replay.text(), /does not match a login in progress/);
    const forged = await fetch(`${gw.apiUrl}/api/oidc/callback?code=abc&state=not-ours`, {
      redirect: "manual",
    });
    assert.equal(forged.status, 400);
    assert.match(await forged.text(), /wrong state, already used/);
  });

  await t.step("a directory login with a local account's email does not take it over", async () => {
    const toProvider = await followGateway(
      `${gw.apiUrl}/api/oidc/web/login`,
      (u) => u.origin === provider.issuer,
    );
    const callback = await signInAtProvider(toProvider.url, provider.issuer, admin.email);
    const page = await followGateway(callback);
    assert.equal(page.status, 401);
    assert.match(page.text, /a local account with that email exists on this gateway/);
    assert.equal(page.headers.getSetCookie().length, 0, "no session cookie");
  });

  await t.step("password logins still work for local accounts", async () => {
    const r = await hoop(["login", "--email", admin.email, "--password-stdin"], {
      env: admin.env,
      stdin: admin.password + "\n",
    });
    assert.equal(r.code, 0, r.stderr);
  });
});

Deno.test("--auth-methods oidc keeps only the break-glass admin's password; a provider that is down is named", async () => {
  // Nothing listens on this issuer: the provider is down.
  const issuer = `http://127.0.0.1:${freePort()}`;
  await using gw = await ssoGateway(issuer, "hoop-gateway", "secret", [
    "--auth-methods",
    "oidc",
    "--break-glass-admin",
    "admin@example.com",
  ]);
  const admin = await signupAdmin(gw); // logs in with a password: the break-glass admin may
  await hoopOk(
    ["admin", "create", "user", "dev@example.com", "--role", "user", "--password-stdin"],
    { env: admin.env, stdin: "dev-password-123\n" },
  );
  const refused = await hoop(["login", "--email", "dev@example.com", "--password-stdin"], {
    env: { ...gw.env, HOOP_HOME: await Deno.makeTempDir() },
    stdin: "dev-password-123\n",
  });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /with a password: this gateway uses single sign-on/);
  const methods = (await (await fetch(`${gw.apiUrl}/api/auth/methods`)).json()) as AuthMethods;
  assert.deepEqual(methods.methods, ["oidc"]);
  const down = await hoop(["login"], {
    env: { ...gw.env, HOOP_HOME: await Deno.makeTempDir(), BROWSER: "true" },
  });
  assert.notEqual(down.code, 0);
  assert.match(down.stderr, new RegExp(`Cannot reach the OpenID provider ${issuer}/`));
});

Deno.test("a login the directory changes is rechecked at the provider: groups follow and cut what they no longer reach, a refusal revokes and cuts the rest", async () => {
  const api = freePort();
  await using provider = await startProvider(`http://127.0.0.1:${api}/api/oidc/callback`);
  await using gw = await ssoGateway(
    provider.issuer,
    provider.clientId,
    provider.clientSecret,
    ["--oidc-recheck-interval", "1s"],
    api,
  );
  const admin = await signupAdmin(gw);
  const key = (await hoopOk(["admin", "create", "agent", "db-agent"], { env: admin.env })).stdout
    .trim();
  await using _agent = await startAgent(key);
  for (const [name, group] of [["dbshell", "dba"], ["webshell", "web"]]) {
    await hoopOk(
      ["admin", "create", "connection", name, "--agent", "db-agent", "--command", "sh"],
      { env: admin.env },
    );
    await hoopOk(["admin", "update", "connection", name, "--groups", group], { env: admin.env });
  }
  provider.groups.set("frank@example.com", ["dba", "web"]);
  const r = await cliLogin(gw, [], async (stderr) => {
    const start = await waitForUrl(stderr, /visit:\n\s+(\S+)/);
    await followGateway(await signInAtProvider(start, provider.issuer, "frank@example.com"));
  });
  assert.equal(r.code, 0, r.text);
  const token = await savedToken(r.home);
  assert.deepEqual(await visibleConnections(gw, token), ["dbshell", "webshell"]);
  // A session on each: one to be cut when his dba group goes, one when the directory refuses him.
  const pids: number[] = [];
  const execs = new Map<string, HoopProcess>();
  try {
    for (const name of ["dbshell", "webshell"]) {
      const exec = spawnHoop(`frank exec ${name}`, [
        "exec",
        name,
        "-i",
        "echo exec-started $$; exec sleep 60",
      ], { env: { ...gw.env, HOOP_HOME: r.home } });
      execs.set(name, exec);
      pids.push(Number((await exec.log.waitFor(/exec-started (\d+)/))[1]));
    }
    /** Wait for frank's exec on `name` to end, cut (non-zero exit). */
    const cut = async (name: string, why: string) => {
      const exec = execs.get(name)!;
      await waitFor(() => exec.hasExited(), { timeoutMs: 10_000, message: why });
      assert.notEqual((await exec.status).code, 0);
    };

    // No new login: the recheck's refreshed ID token carries the directory's new groups.
    provider.groups.set("frank@example.com", ["web"]);
    await waitFor(async () => (await visibleConnections(gw, token)).join() === "webshell", {
      timeoutMs: 30_000,
      message: "frank's dba group to go at a recheck",
    });
    await cut("dbshell", "frank's exec on dbshell to be cut when his dba group went");
    assert.equal(execs.get("webshell")!.hasExited(), false, "the webshell exec was cut too");

    provider.disabled.add("frank@example.com");
    const refused = await waitFor(async () => {
      const res = await fetch(`${gw.apiUrl}/api/me`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = await res.json();
      return res.status === 401 ? body.error : undefined;
    }, { timeoutMs: 30_000, message: "frank's token to be revoked at a recheck" });
    assert.match(refused.message, /The token was revoked/);
    assert.match(refused.hint, /hoop login/);
    await waitFor(() => /single sign-on refused at recheck: token revoked/.test(gw.log.text), {
      timeoutMs: 10_000,
      message: "the gateway's log line",
    });
    await cut("webshell", "frank's webshell exec to be cut with his token");
    const sessions = JSON.parse(
      (await hoopOk(
        ["admin", "get", "sessions", "--user", "frank@example.com", "-o", "json"],
        { env: admin.env },
      )).stdout,
    ) as { connection: string; status: string; error: string }[];
    const byConn = new Map(sessions.map((s) => [s.connection, s]));
    assert.equal(sessions.length, 2);
    assert.equal(byConn.get("dbshell")?.status, "error");
    assert.match(
      byConn.get("dbshell")?.error ?? "",
      /access withdrawn: frank@example.com may no longer use connection "dbshell"/,
    );
    assert.equal(byConn.get("webshell")?.status, "error");
    assert.match(byConn.get("webshell")?.error ?? "", /single sign-on refused at recheck/);
  } finally {
    for (const exec of execs.values()) await exec.stop();
    // The agent leaves an exec whose stdin ended running when its session is cut.
    for (const pid of pids) await killPid(pid);
  }
});

Deno.test({
  name: "a single sign-on user's hoop token is their PostgreSQL listener password",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn() {
    await using pg = await startPostgres();
    const appUrl = await pg.createUser("app", "app-pw", "app");
    const api = freePort();
    const pgPort = freePort();
    await using provider = await startProvider(`http://127.0.0.1:${api}/api/oidc/callback`);
    await using gw = await ssoGateway(
      provider.issuer,
      provider.clientId,
      provider.clientSecret,
      ["--postgres-listen", `127.0.0.1:${pgPort}`],
      api,
    );
    const admin = await signupAdmin(gw);
    const orgKey = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
    await using run = spawnHoop("run pgdemo", ["run", "--name", "pgdemo", "--postgres", appUrl], {
      env: { HOOP_KEY: orgKey },
    });
    await run.log.waitFor(/connected to the gateway/);
    await hoopOk(["admin", "update", "connection", "pgdemo", "--groups", "dba"], {
      env: admin.env,
    });
    provider.groups.set("dee@example.com", ["dba"]);
    provider.groups.set("eve@example.com", ["web"]);
    const ssoToken = async (email: string) => {
      const r = await cliLogin(gw, [], async (stderr) => {
        const start = await waitForUrl(stderr, /visit:\n\s+(\S+)/);
        await followGateway(await signInAtProvider(start, provider.issuer, email));
      });
      assert.equal(r.code, 0, r.text);
      return await savedToken(r.home);
    };
    const psql = async (email: string, token: string) =>
      await psqlThrough(pgPort, "select current_user", {
        args: ["-At"],
        user: email,
        database: "pgdemo",
        env: { PGPASSWORD: token },
      });

    const dee = await ssoToken("dee@example.com");
    assert.deepEqual(await visibleConnections(gw, dee), ["pgdemo"]);
    const ok = await psql("dee@example.com", dee);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), "app");

    const eve = await ssoToken("eve@example.com");
    assert.deepEqual(await visibleConnections(gw, eve), []);
    const refused = await psql("eve@example.com", eve);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /pgdemo/);
  },
});

/** Wait until the CLI printed a URL matching `re` (group 1). */
async function waitForUrl(text: () => string, re: RegExp): Promise<string> {
  return (await waitFor(() => re.exec(text())?.[1], {
    timeoutMs: 20_000,
    message: `a URL matching ${re} from hoop login`,
  }))!;
}

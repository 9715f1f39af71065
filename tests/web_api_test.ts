/**
 * The API the web console uses, driven the way a browser does: the session
 * cookie with its CSRF token and Origin checks, against a real gateway.
 */
import assert from "node:assert/strict";
import type { WebSessionResponse } from "../proto/api_types.ts";
import type { RunCommandResponse, RunPostgresResponse } from "../proto/api_types.ts";
import {
  createUser,
  type GatewayProcess,
  hoopOk,
  type Identity,
  signupAdmin,
  startAgent,
  startGateway,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, startPostgres } from "./_postgres.ts";

if (POSTGRES_SKIP_REASON) console.warn(`web_api_test: SQL steps skipped: ${POSTGRES_SKIP_REASON}`);

/** A browser-like client: remembers the session cookie, sends the API's Origin. */
interface Browser {
  cookie: string;
  csrf: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

async function signIn(gw: GatewayProcess, email: string, password: string): Promise<Browser> {
  const res = await fetch(`${gw.apiUrl}/api/web/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: gw.apiUrl },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json() as WebSessionResponse;
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0];
  return {
    cookie,
    csrf: body.csrf_token,
    fetch: (path, init = {}) =>
      fetch(`${gw.apiUrl}${path}`, {
        ...init,
        headers: { cookie, origin: gw.apiUrl, ...init.headers as Record<string, string> },
      }),
  };
}

async function createConnection(admin: Identity, name: string, flags: string[]): Promise<void> {
  await hoopOk(["admin", "create", "connection", name, "--agent", "dev", ...flags], {
    env: admin.env,
  });
}

async function postJson<T>(b: Browser, path: string, body: unknown): Promise<[number, T]> {
  const res = await b.fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hoop-csrf": b.csrf },
    body: JSON.stringify(body),
  });
  return [res.status, await res.json() as T];
}

Deno.test("the web console's API against a real gateway, agent and PostgreSQL", async (t) => {
  await using pg = POSTGRES_SKIP_REASON ? undefined : await startPostgres();
  await using gw = await startGateway();
  const admin = await signupAdmin(gw);
  const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
    .trim();
  await using _agent = await startAgent(key);
  await createConnection(admin, "sh", ["--command", "sh", "--groups", "ops"]);
  await createConnection(admin, "py", ["--command", "python3 -q -i"]);
  await createConnection(admin, "web", ["--tcp", "127.0.0.1:1"]);
  if (pg) {
    const url = await pg.createUser("app", "app-pw-42", "app");
    await createConnection(admin, "pg", ["--postgres", url]);
  }

  await t.step("web login sets an HttpOnly, SameSite=Strict session cookie", async () => {
    const res = await fetch(`${gw.apiUrl}/api/web/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: admin.email, password: admin.password }),
    });
    assert.equal(res.status, 200);
    const body = await res.json() as WebSessionResponse;
    assert.equal(body.user.email, admin.email);
    assert.match(body.csrf_token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(Date.parse(body.expires_at) > Date.now());
    const cookie = res.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^hoop_session=xtok-[^;]+; /);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Strict/);
    assert.match(cookie, /; Path=\//);
    assert.match(cookie, /; Max-Age=\d+/);
    assert.doesNotMatch(cookie, /Secure/, "plain HTTP: no Secure flag");
    assert.ok(!JSON.stringify(body).includes("xtok-"), "the token itself is only in the cookie");
  });

  await t.step("a wrong password is refused as by /api/login", async () => {
    const res = await fetch(`${gw.apiUrl}/api/web/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: admin.email, password: "nope-nope-nope" }),
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("set-cookie"), null);
    assert.match((await res.json()).error.message, /wrong email or password/);
  });

  await t.step("a login from a foreign Origin is refused", async () => {
    const res = await fetch(`${gw.apiUrl}/api/web/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example" },
      body: JSON.stringify({ email: admin.email, password: admin.password }),
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("set-cookie"), null);
    await res.body?.cancel();
  });

  const browser = await signIn(gw, admin.email, admin.password);

  await t.step("the cookie authenticates GETs, and /api/web/session answers", async () => {
    const conns = await browser.fetch("/api/connections");
    assert.equal(conns.status, 200);
    await conns.body?.cancel();
    const s = await browser.fetch("/api/web/session");
    assert.equal(s.status, 200);
    const body = await s.json() as WebSessionResponse;
    assert.equal(body.user.email, admin.email);
    assert.equal(body.csrf_token, browser.csrf);
    const none = await fetch(`${gw.apiUrl}/api/web/session`);
    assert.equal(none.status, 401);
    await none.body?.cancel();
  });

  const newUser = (email: string, headers: Record<string, string>) =>
    browser.fetch("/api/users", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ email, password: "user-password-123", role: "user" }),
    });

  await t.step("a cookie POST without or with a wrong CSRF token is 403", async () => {
    const tries: Record<string, string>[] = [{}, { "x-hoop-csrf": "A".repeat(43) }, {
      "x-hoop-csrf": "short",
    }];
    for (const headers of tries) {
      const res = await newUser("csrf@example.com", headers);
      assert.equal(res.status, 403);
      const err = (await res.json()).error;
      assert.equal(err.code, "permission_denied");
      assert.equal(err.message, "Missing or wrong CSRF token");
      assert.equal(err.hint, "reload the page");
    }
  });

  await t.step("a cookie POST with the CSRF token but a foreign Origin is 403", async () => {
    const res = await newUser("csrf@example.com", {
      "x-hoop-csrf": browser.csrf,
      origin: "http://evil.example",
    });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });

  await t.step("a cookie POST with the CSRF token works", async () => {
    const res = await newUser("csrf@example.com", { "x-hoop-csrf": browser.csrf });
    assert.equal(res.status, 201, await res.clone().text());
    await res.body?.cancel();
  });

  await t.step("another session's CSRF token does not fit this cookie", async () => {
    const other = await signIn(gw, admin.email, admin.password);
    assert.notEqual(other.csrf, browser.csrf);
    const res = await newUser("csrf2@example.com", { "x-hoop-csrf": other.csrf });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });

  await t.step("a bearer token needs no CSRF token", async () => {
    const user = await createUser(gw, admin, "bearer@example.com");
    const login = await fetch(`${gw.apiUrl}/api/login`, {
      method: "POST",
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    const { token } = await login.json();
    const res = await fetch(`${gw.apiUrl}/api/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, origin: "http://evil.example" },
    });
    assert.equal(res.status, 204);
  });

  await t.step({
    name: "run: select 42, then an SQL error in place after the earlier results",
    ignore: !pg,
    fn: async () => {
      const [status, r] = await postJson<RunPostgresResponse>(browser, "/api/connections/pg/run", {
        input: "select 42 as answer",
      });
      assert.equal(status, 200, JSON.stringify(r));
      assert.equal(r.type, "postgres");
      assert.deepEqual(r.results, [{
        command: "SELECT 1",
        columns: [{ name: "answer", type_oid: 23 }],
        rows: [["42"]],
      }]);
      assert.equal(r.error, undefined);
      const [, bad] = await postJson<RunPostgresResponse>(browser, "/api/connections/pg/run", {
        input: "select 1 as a; select null as b; select nope; select 3",
      });
      assert.deepEqual(bad.results.map((x) => x.rows), [[["1"]], [[null]]]);
      assert.equal(bad.error?.code, "42703");
      assert.match(bad.error?.message ?? "", /column "nope" does not exist/);
    },
  });

  let runSession = "";
  await t.step("run: a command's stdout, stderr and exit code", async () => {
    const [status, r] = await postJson<RunCommandResponse>(browser, "/api/connections/sh/run", {
      input: 'echo out; echo err >&2; read x; echo "got $x"; exit 7',
    });
    assert.equal(status, 200, JSON.stringify(r));
    assert.deepEqual(
      { ...r, session_id: "" },
      {
        session_id: "",
        type: "command",
        stdout: "out\ngot \n",
        stderr: "err\n",
        exit_code: 7,
        truncated: false,
      },
    );
    runSession = r.session_id;
  });

  await t.step("run: recorded as an exec session with its input", async () => {
    const res = await browser.fetch(`/api/sessions/${runSession}`);
    const { session, events } = await res.json();
    assert.equal(session.verb, "exec");
    assert.equal(session.user, admin.email);
    assert.equal(session.connection, "sh");
    assert.equal(session.exit_code, 7);
    const input = events.filter((e: { kind: string }) => e.kind === "i").map((
      e: { data: string },
    ) => e.data).join("");
    assert.match(input, /^echo out; echo err/);
    const listed = await browser.fetch("/api/sessions?verb=exec&connection=sh&status=done");
    assert.deepEqual((await listed.json()).map((x: { id: string }) => x.id), [runSession]);
    const cast = await browser.fetch(`/api/sessions/${runSession}/cast`);
    assert.equal(cast.status, 412, "an exec session has no terminal recording");
    await cast.body?.cancel();
  });

  await t.step("run: a tcp connection is 412, a missing input 400", async () => {
    const [status, r] = await postJson<{ error: { message: string; hint: string } }>(
      browser,
      "/api/connections/web/run",
      { input: "x" },
    );
    assert.equal(status, 412);
    assert.equal(r.error.hint, 'use "hoop connect web"');
    const [status2] = await postJson(browser, "/api/connections/sh/run", {});
    assert.equal(status2, 400);
  });

  await t.step("session filters with bad values are 400 naming the field", async () => {
    for (
      const [query, field] of [
        ["verb=dance", "verb"],
        ["status=closed", "status"],
        ["since=yesterday", "since"],
        ["until=2026-13-45", "until"],
      ]
    ) {
      const res = await browser.fetch(`/api/sessions?${query}`);
      assert.equal(res.status, 400, query);
      assert.match((await res.json()).error.message, new RegExp(`^Invalid ${field} `));
    }
    const ok = await browser.fetch("/api/sessions?verb=exec&status=done&since=2026-01-01T00:00Z");
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const missing = await browser.fetch("/api/sessions/nope/cast");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });

  await t.step("web logout needs CSRF, revokes the token and clears the cookie", async () => {
    const refused = await browser.fetch("/api/web/logout", { method: "POST" });
    assert.equal(refused.status, 403);
    await refused.body?.cancel();
    const res = await browser.fetch("/api/web/logout", {
      method: "POST",
      headers: { "x-hoop-csrf": browser.csrf },
    });
    assert.equal(res.status, 204);
    assert.match(res.headers.get("set-cookie") ?? "", /^hoop_session=; .*Max-Age=0/);
    const after = await browser.fetch("/api/connections");
    assert.equal(after.status, 401);
    assert.match((await after.json()).error.message, /revoked/);
  });
});

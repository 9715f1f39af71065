import assert from "node:assert/strict";
import { join } from "node:path";
import { apiError, json, type RecordedRequest, startFakeApi } from "../_fake_api.ts";
import { configPath, loadConfig, saveConfig } from "../config.ts";
import { captureContext } from "../context.ts";
import { runCli } from "../main.ts";

const USER = { id: "u1", email: "admin@example.com", role: "admin", groups: [], created_at: null };

function gateway(req: RecordedRequest): Response {
  const body = req.body as { email?: string; password?: string } | undefined;
  switch (req.path) {
    case "/api/signup":
      return json({ user: USER }, 201);
    case "/api/login":
      return body?.password === "pw1"
        ? json({ token: "xtok-abc", expires_at: "2027-01-01T00:00:00Z", user: USER })
        : apiError(401, "unauthenticated", "Cannot log in: wrong email or password");
    case "/api/logout":
      return req.authorization === "Bearer xtok-abc"
        ? new Response(null, { status: 204 })
        : apiError(401, "unauthenticated", "Cannot use token: it was revoked");
  }
  return apiError(404, "not_found", "no route");
}

async function withHome(fn: (home: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "hoop-login-test-" });
  try {
    await fn(join(dir, ".hoop"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("hoop signup creates the admin, logs in and saves a 0600 config (fake API)", () =>
  withHome(async (home) => {
    await using fake = startFakeApi(gateway);
    const cap = captureContext({ home, stdin: "pw1\n" });
    const code = await runCli(
      ["signup", "--email", "admin@example.com", "--password-stdin", "--api-url", fake.url],
      cap.ctx,
    );
    assert.equal(code, 0, cap.stderr());
    assert.equal(cap.stdout(), "");
    assert.equal(cap.stderr(), "Signed up and logged in as admin@example.com (admin)\n");
    assert.deepEqual(fake.requests.map((r) => r.path), ["/api/signup", "/api/login"]);
    assert.deepEqual(fake.requests[0].body, { email: "admin@example.com", password: "pw1" });
    assert.deepEqual(await loadConfig(cap.ctx), {
      api_url: fake.url,
      token: "xtok-abc",
      email: "admin@example.com",
    });
    assert.equal((await Deno.stat(configPath(cap.ctx))).mode! & 0o777, 0o600);
  }));

Deno.test("hoop login prompts on a terminal, reports a wrong password, and logout forgets the token (fake API)", () =>
  withHome(async (home) => {
    await using fake = startFakeApi(gateway);
    await saveConfig({ home }, { grpc_url: "grpc://kept:8010" });

    const wrong = captureContext({ home, isTerminal: true, secrets: ["nope"] });
    assert.equal(
      await runCli(["login", "--email", "admin@example.com", "--api-url", fake.url], wrong.ctx),
      1,
    );
    assert.equal(wrong.stderr(), "hoop: Cannot log in: wrong email or password\n");
    assert.deepEqual(wrong.prompts, ["Password: "]);

    const ok = captureContext({ home, isTerminal: true, secrets: ["pw1"] });
    assert.equal(
      await runCli(["login", "--email", "admin@example.com", "--api-url", fake.url], ok.ctx),
      0,
    );
    assert.equal(ok.stderr(), "Logged in as admin@example.com\n");
    assert.deepEqual(await loadConfig(ok.ctx), {
      api_url: fake.url,
      grpc_url: "grpc://kept:8010",
      token: "xtok-abc",
      email: "admin@example.com",
    });

    // The saved URL and token are used without flags from now on.
    const out = captureContext({ home });
    assert.equal(await runCli(["logout"], out.ctx), 0, out.stderr());
    assert.equal(out.stderr(), "Logged out\n");
    assert.equal(fake.requests.at(-1)?.authorization, "Bearer xtok-abc");
    assert.equal((await loadConfig(out.ctx)).token, undefined);
  }));

Deno.test("hoop login without a terminal needs --password-stdin (exit 2)", () =>
  withHome(async (home) => {
    const cap = captureContext({ home });
    assert.equal(await runCli(["login", "--email", "a@b.c"], cap.ctx), 2);
    assert.match(
      cap.stderr(),
      /^hoop login: a password is needed: pass --password-stdin and write it to standard input\n/,
    );
  }));

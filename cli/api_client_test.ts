import assert from "node:assert/strict";
import { ERROR_CODES, HoopError } from "../proto/errors.ts";
import { apiError, closedPort, json, startFakeApi } from "./_fake_api.ts";
import { ApiClient, apiClientFor } from "./api_client.ts";
import { captureContext } from "./context.ts";

async function failure(promise: Promise<unknown>): Promise<HoopError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof HoopError, `not a HoopError: ${err}`);
    return err;
  }
  assert.fail("expected the request to fail");
}

Deno.test("ApiClient diagnoses an unreachable gateway with the URL, its source and a hint", async () => {
  const url = `http://127.0.0.1:${closedPort()}`;
  const { ctx } = captureContext({ env: { HOOP_API_URL: url } });
  const api = await apiClientFor(ctx);
  const err = await failure(api.get("/api/agents"));
  assert.equal(err.code, "unavailable");
  assert.equal(
    err.message,
    `Cannot reach the gateway API at "${url}" (from HOOP_API_URL): connection refused`,
  );
  assert.equal(err.hint, 'start one with "hoop start gateway" or set --api-url / HOOP_API_URL');
});

Deno.test("ApiClient keeps the code, message and hint of an API error (fake API)", async () => {
  await using fake = startFakeApi(() =>
    apiError(
      409,
      "already_exists",
      'Cannot create agent "dev": an agent with that name already exists',
      'run "hoop admin get agents"',
    )
  );
  const api = new ApiClient({ apiUrl: fake.url, token: "xtok-1" });
  const err = await failure(api.post("/api/agents", { name: "dev" }));
  assert.equal(err.code, "already_exists");
  assert.equal(err.exitCode, 1);
  assert.equal(err.message, 'Cannot create agent "dev": an agent with that name already exists');
  assert.equal(err.hint, 'run "hoop admin get agents"');
  assert.equal(fake.requests[0].authorization, "Bearer xtok-1");
  assert.deepEqual(fake.requests[0].body, { name: "dev" });
});

Deno.test("ApiClient turns a 401 into a login hint, keeping the server's reason for a refused token (fake API)", async () => {
  await using fake = startFakeApi(() =>
    apiError(401, "unauthenticated", "Cannot use token: it expired")
  );
  const anonymous = await failure(new ApiClient({ apiUrl: fake.url }).get("/api/agents"));
  assert.equal(anonymous.message, "Not logged in");
  assert.equal(anonymous.hint, 'run "hoop login --email EMAIL"');

  const expired = await failure(
    new ApiClient({ apiUrl: fake.url, token: "xtok-old" }).get("/api/agents"),
  );
  assert.equal(expired.message, "Cannot use token: it expired");
  assert.equal(expired.hint, 'run "hoop login --email EMAIL"');

  // On login itself a 401 is the verdict on the password, not a missing login.
  const login = await failure(
    new ApiClient({ apiUrl: fake.url }).post("/api/login", {}, { anonymous: true }),
  );
  assert.equal(login.message, "Cannot use token: it expired");
  assert.equal(login.hint, undefined);
});

Deno.test("ApiClient maps a non-JSON error by its HTTP status and decodes 204 as undefined (fake API)", async () => {
  await using fake = startFakeApi((req) =>
    req.path === "/api/logout"
      ? new Response(null, { status: 204 })
      : new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" })
  );
  const api = new ApiClient({ apiUrl: fake.url + "/", token: "t" });
  assert.equal(await api.post("/api/logout"), undefined);
  const err = await failure(api.get("/api/agents"));
  assert.equal(err.code, "unavailable");
  assert.equal(
    err.message,
    `Cannot GET "${fake.url}/api/agents": the server answered HTTP 502 Bad Gateway`,
  );
});

Deno.test("ApiClient returns the decoded JSON of a success (fake API)", async () => {
  await using fake = startFakeApi(() => json([{ id: "1", name: "dev" }]));
  const api = new ApiClient({ apiUrl: fake.url });
  assert.deepEqual(await api.get("/api/agents"), [{ id: "1", name: "dev" }]);
});

Deno.test("ApiClient reads the code of a bodiless error from the HTTP status of its row (fake API)", async () => {
  await using fake = startFakeApi((req) => new Response("", { status: Number(req.path.slice(1)) }));
  const api = new ApiClient({ apiUrl: fake.url, token: "t" });
  const want: [number, string][] = [
    ...Object.entries(ERROR_CODES).map(([code, m]) => [m.http, code] as [number, string]),
    [502, "unavailable"],
    [504, "unavailable"],
    [418, "internal"],
  ];
  for (const [status, code] of want) {
    assert.equal((await failure(api.get(`/${status}`))).code, code, `HTTP ${status}`);
  }
});

import assert from "node:assert/strict";
import { Hono } from "hono";
import type {
  Agent,
  AgentResponse,
  Connection,
  ConnectionResponse,
  CreateAgentRequest,
  CreateAgentResponse,
  CreateConnectionRequest,
  CreateUserRequest,
  CreateUserResponse,
  ErrorBody,
  Health,
  LoginResponse,
  OrgKey,
  Session,
  User,
  UserResponse,
} from "../../proto/api_types.ts";
import { ERROR_CODES, type ErrorCode, HoopError } from "../../proto/errors.ts";
import { Logger } from "../../proto/log.ts";
import { VERSION } from "../../proto/version.ts";
import { SessionBroker } from "../broker/mod.ts";
import { MemoryPresence } from "../presence.ts";
import { DEFAULT_AUDIT_MAX_BYTES } from "../audit/mod.ts";
import { secretBoxFromKey } from "../secret_box.ts";
import { openStore } from "../store/open_store.ts";
import { type Store, StoreConflictError, StoreNotFoundError } from "../store/store.ts";
import { MAX_BODY_BYTES } from "./_body.ts";
import { LoginThrottle } from "../login_throttle.ts";
import { apiHandler } from "./app.ts";
import { onApiError } from "./errors.ts";

const secretBox = await secretBoxFromKey(new Uint8Array(32).fill(9));

/** Bytes per chunk of the test streams. */
const CHUNK_BYTES = 64 * 1024;

interface TestApi extends AsyncDisposable {
  handler: (req: Request) => Promise<Response>;
  store: Store;
  /** Every log line written so far. */
  logs: string[];
}

/** The API over a fresh in-memory SQLite store; `wrap` may replace store methods. */
async function startApi(wrap?: (store: Store) => Store): Promise<TestApi> {
  const store = await openStore("sqlite::memory:", { dataDir: "/nonexistent", secretBox });
  const logs: string[] = [];
  const log = new Logger({}, { sink: { write: (line) => logs.push(line) }, level: "debug" });
  const presence = new MemoryPresence();
  const broker = new SessionBroker({
    store,
    presence,
    log,
    auditMaxBytes: DEFAULT_AUDIT_MAX_BYTES,
  });
  const handler = apiHandler({
    store: wrap ? wrap(store) : store,
    presence,
    broker,
    log,
    grpcUrl: new URL("grpc://127.0.0.1:8010"),
    dataAddr: "127.0.0.1:8011",
    dataTls: false,
    tokenTtlMs: 60_000,
    throttle: new LoginThrottle(),
    onRevokeAgents() {},
  });
  return {
    handler,
    store,
    logs,
    async [Symbol.asyncDispose]() {
      await broker.close("test over");
      await store.close();
    },
  };
}

/** An endless body stream that counts what was pulled from it and whether it was cancelled. */
function endlessBody() {
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      state.pulled += CHUNK_BYTES;
      controller.enqueue(new Uint8Array(CHUNK_BYTES).fill(0x20));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  assert.equal(res.headers.get("content-type"), "application/json");
  return ((await res.json()) as ErrorBody).error;
}

function post(path: string, init: RequestInit = {}): Request {
  return new Request(`http://api.test${path}`, { method: "POST", ...init });
}

async function loginAsAdmin(api: TestApi): Promise<string> {
  const credentials = JSON.stringify({ email: "admin@example.com", password: "s3cret-pw" });
  assert.equal((await api.handler(post("/api/signup", { body: credentials }))).status, 201);
  const res = await api.handler(post("/api/login", { body: credentials }));
  assert.equal(res.status, 200);
  return ((await res.json()) as LoginResponse).token;
}

Deno.test("apiHandler() refuses a chunked body over the limit with 413 without reading it all", async () => {
  await using api = await startApi();
  const { stream, state } = endlessBody();
  const res = await api.handler(post("/api/signup", { body: stream }));
  assert.equal(res.status, 413);
  const err = await errorOf(res);
  assert.equal(err.code, "resource_exhausted");
  assert.match(err.message, /^Request body of at least \d+ bytes is over the 1 MiB limit$/);
  // The stream never ends: answering at all proves it was not read to the end.
  assert.ok(state.pulled <= MAX_BODY_BYTES + 2 * CHUNK_BYTES, `pulled ${state.pulled} bytes`);
  assert.ok(state.cancelled, "the rest of the body was not cancelled");
  assert.equal(await api.store.countUsers(), 0);
});

Deno.test("apiHandler() refuses a body longer than its lying small Content-Length with 413", async () => {
  await using api = await startApi();
  const { stream, state } = endlessBody();
  const res = await api.handler(
    post("/api/signup", { body: stream, headers: { "content-length": "16" } }),
  );
  assert.equal(res.status, 413);
  assert.equal((await errorOf(res)).code, "resource_exhausted");
  assert.ok(state.pulled <= MAX_BODY_BYTES + 2 * CHUNK_BYTES, `pulled ${state.pulled} bytes`);
});

Deno.test("apiHandler() refuses a declared Content-Length over the limit before reading", async () => {
  await using api = await startApi();
  const { stream, state } = endlessBody();
  const declared = String(MAX_BODY_BYTES + 1);
  const res = await api.handler(
    post("/api/signup", { body: stream, headers: { "content-length": declared } }),
  );
  assert.equal(res.status, 413);
  const err = await errorOf(res);
  assert.equal(err.message, `Request body of ${declared} bytes is over the 1 MiB limit`);
  // A ReadableStream pulls once to fill its queue on its own; nothing more was asked for.
  assert.ok(state.pulled <= CHUNK_BYTES, `pulled ${state.pulled} bytes`);
});

Deno.test("apiHandler() accepts a body of exactly the limit", async () => {
  await using api = await startApi();
  const padding = " ".repeat(MAX_BODY_BYTES - 2);
  const res = await api.handler(post("/api/signup", { body: `{}${padding}` }));
  // Read whole and parsed: the answer is about the missing field, not the size.
  assert.equal(res.status, 400);
  assert.equal((await errorOf(res)).message, 'Missing field "email"');
});

Deno.test("the API over HTTP answers 413 to an unfinished chunked body past the limit", async () => {
  await using api = await startApi();
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    api.handler,
  );
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  const enc = new TextEncoder();
  const chunk = enc.encode(`${CHUNK_BYTES.toString(16)}\r\n${" ".repeat(CHUNK_BYTES)}\r\n`);
  const head = "POST /api/signup HTTP/1.1\r\nhost: api.test\r\ncontent-type: application/json\r\n" +
    "transfer-encoding: chunked\r\n\r\n";
  // A little over the limit, and never the final zero-length chunk.
  const writing = (async () => {
    await conn.write(enc.encode(head));
    for (let sent = 0; sent <= MAX_BODY_BYTES + CHUNK_BYTES; sent += CHUNK_BYTES) {
      await conn.write(chunk);
    }
  })().catch(() => {
    // The server may close its side once it has answered.
  });
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  assert.match(text, /^HTTP\/1\.1 413 /);
  assert.match(text, /"code":"resource_exhausted"/);
  conn.closeWrite();
  await writing;
});

Deno.test("apiHandler() answers a malformed %-escape in the path with 400, logging no stack", async () => {
  await using api = await startApi();
  for (const path of ["/api/connections/%E0%A4%A", "/api/agents/%zz", "/api/nope/%"]) {
    const res = await api.handler(new Request(`http://api.test${path}`, { method: "DELETE" }));
    assert.equal(res.status, 400, path);
    const err = await errorOf(res);
    assert.equal(err.code, "invalid_argument");
    assert.equal(err.message, `Cannot read the URL path "${path}": it has a malformed %-escape`);
    assert.equal(err.hint, 'write a literal "%" as "%25"');
  }
  assert.deepEqual(api.logs.filter((l) => /ERROR|stack/.test(l)), []);
});

Deno.test("apiHandler() decodes well-formed escapes in names", async () => {
  await using api = await startApi();
  const token = await loginAsAdmin(api);
  const res = await api.handler(
    new Request("http://api.test/api/connections/caf%C3%A9%2Fx", {
      headers: { authorization: `Bearer ${token}` },
    }),
  );
  assert.equal(res.status, 404);
  assert.equal((await errorOf(res)).message, 'Unknown connection "café/x"');
});

Deno.test("apiHandler() answers an unknown API route with a 404 JSON error (other paths are the web console)", async () => {
  await using api = await startApi();
  for (const path of ["/api/nope", "/api/agents/", "/api/agents/dev/keys"]) {
    const res = await api.handler(new Request(`http://api.test${path}`));
    assert.equal(res.status, 404, path);
    assert.deepEqual(await errorOf(res), {
      code: "not_found",
      message: `No API route "${path}"`,
    });
  }
});

Deno.test("apiHandler() answers another method on a known path with 400 naming it", async () => {
  await using api = await startApi();
  const cases = [["PUT", "/api/agents"], ["GET", "/api/agents/dev"], ["POST", "/api/healthz"]];
  for (const [method, path] of cases) {
    const res = await api.handler(new Request(`http://api.test${path}`, { method }));
    assert.equal(res.status, 400, `${method} ${path}`);
    assert.deepEqual(await errorOf(res), {
      code: "invalid_argument",
      message: `Method ${method} is not allowed here`,
    });
  }
});

Deno.test("apiHandler() serves no HEAD: 400 on a known path, 404 elsewhere", async () => {
  await using api = await startApi();
  const known = await api.handler(new Request("http://api.test/api/healthz", { method: "HEAD" }));
  // A HEAD answer has no body on the wire; the status is what a client sees.
  assert.equal(known.status, 400);
  await known.body?.cancel();
  const unknown = await api.handler(new Request("http://api.test/api/nope", { method: "HEAD" }));
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("apiHandler() authenticates before it reads a body", async () => {
  await using api = await startApi();
  const res = await api.handler(post("/api/agents", { body: "not json" }));
  assert.equal(res.status, 401);
  assert.deepEqual(await errorOf(res), {
    code: "unauthenticated",
    message: "Not logged in",
    hint: 'run "hoop login --email EMAIL"',
  });
});

Deno.test("onApiError() answers each HoopError code with its status from the one table", async () => {
  const logs: string[] = [];
  const app = new Hono();
  app.onError(onApiError(new Logger({}, { sink: { write: (l) => logs.push(l) } })));
  app.get("/:code", (c) => {
    throw new HoopError(c.req.param("code") as ErrorCode, "Cannot do it: no", { hint: "try" });
  });
  for (const [code, mapping] of Object.entries(ERROR_CODES)) {
    const res = await app.fetch(new Request(`http://api.test/${code}`));
    assert.equal(res.status, mapping.http, code);
    assert.deepEqual(await errorOf(res), { code, message: "Cannot do it: no", hint: "try" });
  }
  assert.deepEqual(logs, []);
});

Deno.test("onApiError() maps store errors to not_found and already_exists", async () => {
  const app = new Hono();
  app.onError(onApiError(new Logger({}, { sink: { write() {} } })));
  app.get("/missing", () => {
    throw new StoreNotFoundError("agent", "dev");
  });
  app.get("/taken", () => {
    throw new StoreConflictError("agent", "dev");
  });
  const missing = await app.fetch(new Request("http://api.test/missing"));
  assert.equal(missing.status, 404);
  assert.equal((await errorOf(missing)).code, "not_found");
  const taken = await app.fetch(new Request("http://api.test/taken"));
  assert.equal(taken.status, 409);
  assert.equal((await errorOf(taken)).code, "already_exists");
});

Deno.test("apiHandler() hides a bug behind a request id and logs it with its stack", async () => {
  await using api = await startApi((store) =>
    new Proxy(store, {
      get(target, key, receiver) {
        if (key === "listAgents") {
          return () => Promise.reject(new TypeError("boom: undefined is not a function"));
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    })
  );
  const token = await loginAsAdmin(api);
  const res = await api.handler(
    new Request("http://api.test/api/agents", { headers: { authorization: `Bearer ${token}` } }),
  );
  assert.equal(res.status, 500);
  const err = await errorOf(res);
  assert.equal(err.code, "internal");
  const id = /^Internal error \(request ([0-9a-f-]{36})\)$/.exec(err.message)?.[1];
  assert.ok(id, err.message);
  assert.doesNotMatch(err.message, /boom/);
  const line = api.logs.find((l) => l.includes("internal error in API"));
  assert.ok(line, api.logs.join("\n"));
  assert.match(line, new RegExp(`request_id=${id}`));
  assert.match(line, /path=\/api\/agents/);
  assert.match(line, /stack=.*TypeError: boom/);
});

Deno.test("apiHandler() answers each resource in its documented JSON shape", async (t) => {
  await using api = await startApi();
  const token = await loginAsAdmin(api);
  async function call<T>(method: string, path: string, body?: unknown): Promise<[number, T]> {
    const res = await api.handler(
      new Request(`http://api.test${path}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return [res.status, res.status === 204 ? undefined as T : await res.json() as T];
  }
  const keys = (o: object) => Object.keys(o).sort();
  const AGENT_KEYS = [
    "connected_at",
    "created_at",
    "hostname",
    "id",
    "mode",
    "name",
    "platform",
    "seen_at",
    "status",
    "version",
  ];

  await t.step("healthz, me", async () => {
    const [status, health] = await call<Health>("GET", "/api/healthz");
    assert.equal(status, 200);
    assert.deepEqual(health, { status: "ok", version: VERSION });
    const [, me] = await call<UserResponse>("GET", "/api/me");
    assert.deepEqual(keys(me.user), ["created_at", "email", "groups", "id", "role"]);
  });

  await t.step("agents and the org key", async () => {
    const [status, created] = await call<CreateAgentResponse>(
      "POST",
      "/api/agents",
      {
        name: "dev",
      } satisfies CreateAgentRequest,
    );
    assert.equal(status, 201);
    assert.deepEqual(keys(created), ["agent", "dsn"]);
    assert.deepEqual(keys(created.agent), AGENT_KEYS);
    assert.match(created.dsn, /^grpc:\/\/dev:xagt-[^@]+@127\.0\.0\.1:8010\?mode=standard$/);
    const [, list] = await call<Agent[]>("GET", "/api/agents");
    assert.deepEqual(list, [created.agent]);

    const [orgStatus, org] = await call<OrgKey>("POST", "/api/orgkeys");
    assert.equal(orgStatus, 201);
    assert.deepEqual(keys(org), ["created_at", "dsn", "id"]);
    assert.deepEqual((await call<OrgKey>("GET", "/api/orgkeys"))[1], org);
    assert.deepEqual(await call("DELETE", "/api/orgkeys"), [200, { id: org.id }]);
  });

  await t.step("connections, with secrets masked", async () => {
    const [status, created] = await call<ConnectionResponse>(
      "POST",
      "/api/connections",
      {
        name: "db",
        agent: "dev",
        type: "postgres",
        config: { uri: "postgres://app:hunter2@db.internal:5432/app" },
        groups: "ops, dev,ops",
      } satisfies CreateConnectionRequest,
    );
    assert.equal(status, 201);
    assert.deepEqual(
      created.connection,
      {
        id: created.connection.id,
        name: "db",
        type: "postgres",
        agent: "dev",
        status: "OFFLINE",
        groups: ["ops", "dev"],
        config: { uri: "postgres://app:***@db.internal:5432/app" },
        created_at: created.connection.created_at,
      } satisfies Connection,
    );
    assert.deepEqual((await call<Connection[]>("GET", "/api/connections"))[1], [
      created.connection,
    ]);
    assert.deepEqual(await call("GET", "/api/connections/db"), [200, created]);
    // Issue #10: a password given as a URI parameter was shown in clear.
    const [, param] = await call<ConnectionResponse>(
      "POST",
      "/api/connections",
      {
        name: "db2",
        agent: "dev",
        type: "postgres",
        config: { uri: "postgres://app@db.internal/app?sslmode=require&password=hunter3" },
      } satisfies CreateConnectionRequest,
    );
    assert.equal(
      param.connection.config.uri,
      "postgres://app@db.internal/app?sslmode=require&password=***",
    );
    const listed = JSON.stringify((await call("GET", "/api/connections"))[1]);
    assert.ok(!listed.includes("hunter"), listed);
    await call("DELETE", "/api/connections/db2");
  });

  await t.step("users, with a generated password answered once", async () => {
    const [status, created] = await call<CreateUserResponse>(
      "POST",
      "/api/users",
      {
        email: "Bob@Example.com",
        groups: ["ops"],
      } satisfies CreateUserRequest,
    );
    assert.equal(status, 201);
    assert.deepEqual(keys(created), ["password", "user"]);
    assert.equal(created.user.email, "bob@example.com");
    assert.equal(created.user.role, "user");
    assert.deepEqual((await call<User[]>("GET", "/api/users"))[1].map((u) => u.email), [
      "admin@example.com",
      "bob@example.com",
    ]);
    assert.deepEqual(await call("DELETE", "/api/users/bob%40example.com"), [200, {
      user: created.user,
    }]);
  });

  await t.step("sessions: an empty list, a bad limit, an unknown id", async () => {
    assert.deepEqual(await call<Session[]>("GET", "/api/sessions?limit=5"), [200, []]);
    const [status, bad] = await call<ErrorBody>("GET", "/api/sessions?limit=0");
    assert.equal(status, 400);
    assert.equal(bad.error.message, 'Invalid limit "0": use a whole number from 1 to 10000');
    const [missing] = await call<ErrorBody>("GET", "/api/sessions/nope");
    assert.equal(missing, 404);
  });

  await t.step("deleting the agent, then logging out", async () => {
    const [status, deleted] = await call<AgentResponse>("DELETE", "/api/agents/dev");
    assert.equal(status, 200);
    assert.deepEqual(keys(deleted.agent), AGENT_KEYS);
    assert.deepEqual(await call("POST", "/api/logout"), [204, undefined]);
    const [after, err] = await call<ErrorBody>("GET", "/api/me");
    assert.equal(after, 401);
    assert.equal(err.error.message, "The token was revoked");
  });
});

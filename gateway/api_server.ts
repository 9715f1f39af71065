/**
 * The HTTP JSON API (docs/API.md): accounts, agents, org key, connections,
 * users, sessions, and the session-open call that returns a data ticket.
 * Every error leaves as `{"error": {code, message, hint}}` with the status of
 * the code's row in proto/errors.ts; anything else is logged with its stack
 * and answered with a generic message and a request id.
 *
 * @module
 */
import { formatDsn, validateName } from "../proto/dsn.ts";
import {
  alreadyExists,
  failedPrecondition,
  HoopError,
  invalidArgument,
  notFound,
  permissionDenied,
  resourceExhausted,
  unauthenticated,
} from "../proto/errors.ts";
import { encodeBase64 } from "../proto/base64.ts";
import { generateAgentKey, generateToken, sha256Hex } from "../proto/keys.ts";
import { type Logger, redact } from "../proto/log.ts";
import { authenticatePassword, authenticateToken, canUse } from "./auth.ts";
import { generatePassword, hashPassword } from "./password.ts";
import type { PresenceRegistry } from "./presence.ts";
import type { SessionBroker } from "./session_broker.ts";
import {
  type Agent,
  type AgentMode,
  type Connection,
  type ConnectionType,
  type Role,
  type Session,
  type SessionEvent,
  type SessionVerb,
  type Store,
  StoreConflictError,
  StoreNotFoundError,
  type User,
} from "./store/store.ts";
import { VERSION } from "../proto/version.ts";

/** Largest request body the API reads. */
const MAX_BODY_BYTES = 1024 * 1024;

/** What the API needs from the gateway. */
export interface ApiContext {
  store: Store;
  presence: PresenceRegistry;
  broker: SessionBroker;
  log: Logger;
  /** Public gRPC URL used to build DSNs (`HOOP_GRPC_URL`). */
  grpcUrl: URL;
  /** Public `host:port` of the data port. */
  dataAddr: string;
  dataTls: boolean;
  tokenTtlMs: number;
  /** Called after an agent or the org key is revoked, to cut streams. */
  onRevokeAgents(agentIds: string[]): void;
}

interface Request {
  req: globalThis.Request;
  url: URL;
  params: string[];
}

type Handler = (ctx: ApiContext, r: Request) => Promise<Response>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

const routes: Route[] = [];
function route(method: string, path: string, handler: Handler): void {
  const pattern = new RegExp("^" + path.replace(/\{[a-z_]+\}/g, "([^/]+)") + "$");
  routes.push({ method, pattern, handler });
}

/** Build the request handler of the API. */
export function apiHandler(ctx: ApiContext): (req: globalThis.Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    try {
      for (const r of routes) {
        const m = r.pattern.exec(url.pathname);
        if (!m) continue;
        if (r.method !== req.method) continue;
        return await r.handler(ctx, {
          req,
          url,
          params: m.slice(1).map((p) => decodeURIComponent(p)),
        });
      }
      if (routes.some((r) => r.pattern.test(url.pathname))) {
        return errorResponse(
          new HoopError("invalid_argument", `Method ${req.method} is not allowed here`),
        );
      }
      return errorResponse(notFound(`No API route "${url.pathname}"`));
    } catch (err) {
      if (err instanceof HoopError) return errorResponse(err);
      if (err instanceof StoreNotFoundError) return errorResponse(notFound(err.message));
      if (err instanceof StoreConflictError) return errorResponse(alreadyExists(err.message));
      const requestId = crypto.randomUUID();
      ctx.log.error("internal error in API", {
        request_id: requestId,
        path: url.pathname,
        err,
        stack: err instanceof Error ? err.stack : undefined,
      });
      return json({
        error: { code: "internal", message: `Internal error (request ${requestId})` },
      }, 500);
    }
  };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function errorResponse(err: HoopError): Response {
  return json(err.toJson(), err.httpStatus);
}

async function readBody(r: Request): Promise<Record<string, unknown>> {
  const len = Number(r.req.headers.get("content-length") ?? "0");
  if (len > MAX_BODY_BYTES) {
    throw resourceExhausted(`Request body of ${len} bytes is over the 1 MiB limit`);
  }
  const buf = new Uint8Array(await r.req.arrayBuffer());
  if (buf.length > MAX_BODY_BYTES) {
    throw resourceExhausted(`Request body of ${buf.length} bytes is over the 1 MiB limit`);
  }
  if (buf.length === 0) return {};
  try {
    const v = JSON.parse(new TextDecoder().decode(buf));
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // Answered below.
  }
  throw invalidArgument("Request body is not a JSON object");
}

function str(body: Record<string, unknown>, key: string, required = true): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === "") {
    if (required) throw invalidArgument(`Missing field "${key}"`);
    return undefined;
  }
  if (typeof v !== "string") throw invalidArgument(`Field "${key}" must be a string`);
  return v;
}

function groupsOf(body: Record<string, unknown>): string[] {
  const v = body.groups;
  if (v === undefined || v === null) return [];
  const list = typeof v === "string" ? v.split(",") : v;
  if (!Array.isArray(list) || list.some((g) => typeof g !== "string")) {
    throw invalidArgument('Field "groups" must be a list of names');
  }
  const groups = [...new Set(list.map((g: string) => g.trim()).filter(Boolean))];
  for (const g of groups) validateName("group", g);
  return groups;
}

// --- authentication ------------------------------------------------------

async function authUser(ctx: ApiContext, r: Request): Promise<User> {
  const header = r.req.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) {
    throw unauthenticated("Not logged in", { hint: 'run "hoop login --email EMAIL"' });
  }
  return (await authenticateToken(ctx.store, m[1])).user;
}

async function authAdmin(ctx: ApiContext, r: Request): Promise<User> {
  const user = await authUser(ctx, r);
  if (user.role !== "admin") {
    throw permissionDenied(
      `Permission denied: ${r.req.method} ${r.url.pathname} needs the admin role`,
    );
  }
  return user;
}

// --- views ---------------------------------------------------------------

function agentView(ctx: ApiContext, a: Agent) {
  return {
    id: a.id,
    name: a.name,
    mode: a.mode,
    status: ctx.presence.get(a.id) ? "ONLINE" : "OFFLINE",
    version: a.version,
    hostname: a.hostname,
    platform: a.platform,
    created_at: a.createdAt,
    connected_at: a.connectedAt,
    seen_at: a.seenAt,
  };
}

function userView(u: User) {
  return { id: u.id, email: u.email, role: u.role, groups: u.groups, created_at: u.createdAt };
}

function redactConfig(config: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    out[k] = /pass|secret|key/i.test(k) ? "***" : redact(v);
  }
  return out;
}

async function connectionView(ctx: ApiContext, c: Connection, agents?: Map<string, Agent>) {
  const agent = agents?.get(c.agentId) ?? await ctx.store.getAgentById(c.agentId);
  return {
    id: c.id,
    name: c.name,
    type: c.type,
    agent: agent?.name ?? null,
    status: ctx.presence.get(c.agentId) ? "ONLINE" : "OFFLINE",
    groups: c.groups,
    config: redactConfig(c.config),
    created_at: c.createdAt,
  };
}

function sessionView(s: Session) {
  return {
    id: s.id,
    user: s.userEmail,
    connection: s.connectionName,
    type: s.connectionType,
    agent: s.agentName,
    verb: s.verb,
    status: s.status,
    exit_code: s.exitCode,
    bytes_in: s.bytesIn,
    bytes_out: s.bytesOut,
    truncated: s.truncated,
    error: s.error,
    started_at: s.startedAt,
    ended_at: s.endedAt,
  };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function eventView(e: SessionEvent) {
  try {
    return { seq: e.seq, time: e.time, kind: e.kind, data: strictUtf8.decode(e.data) };
  } catch {
    return { seq: e.seq, time: e.time, kind: e.kind, data_b64: encodeBase64(e.data) };
  }
}

function agentDsn(ctx: ApiContext, name: string, key: string, mode: AgentMode): string {
  const u = ctx.grpcUrl;
  const scheme = u.protocol.replace(":", "") as "grpc" | "grpcs" | "http" | "https";
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = Number(u.port || (scheme.endsWith("s") ? 443 : 80));
  return formatDsn({ scheme, name, key, host, port, mode });
}

/** Name used in org-key DSNs; the key, not the name, identifies it. */
const ORG_KEY_NAME = "org";

// --- routes --------------------------------------------------------------

route("GET", "/api/healthz", () => Promise.resolve(json({ status: "ok", version: VERSION })));

route("POST", "/api/signup", async (ctx, r) => {
  const body = await readBody(r);
  const email = normalizeEmail(str(body, "email")!);
  const password = str(body, "password")!;
  checkPassword(password);
  if (await ctx.store.countUsers() > 0) {
    throw permissionDenied("Signup is closed: this gateway has an admin already", {
      hint: 'ask an admin to run "hoop admin create user EMAIL"',
    });
  }
  const user = await ctx.store.createUser({
    id: crypto.randomUUID(),
    email,
    role: "admin",
    groups: [],
    passwordHash: await hashPassword(password),
    createdAt: new Date().toISOString(),
  });
  ctx.log.info("first admin signed up", { user: email });
  return json({ user: userView(user) }, 201);
});

route("POST", "/api/login", async (ctx, r) => {
  const body = await readBody(r);
  const email = normalizeEmail(str(body, "email")!);
  const password = str(body, "password")!;
  const user = await authenticatePassword(ctx.store, email, password);
  if (!user) {
    throw unauthenticated(`Cannot log in as "${email}": wrong email or password`);
  }
  const token = generateToken();
  const now = Date.now();
  const expiresAt = new Date(now + ctx.tokenTtlMs).toISOString();
  await ctx.store.createToken({
    id: crypto.randomUUID(),
    userId: user.id,
    tokenHash: await sha256Hex(token),
    createdAt: new Date(now).toISOString(),
    expiresAt,
    revokedAt: null,
  });
  ctx.log.info("user logged in", { user: user.email });
  return json({ token, expires_at: expiresAt, user: userView(user) });
});

route("POST", "/api/logout", async (ctx, r) => {
  await authUser(ctx, r);
  const m = /^Bearer\s+(\S+)$/i.exec(r.req.headers.get("authorization") ?? "")!;
  const token = await ctx.store.getTokenByHash(await sha256Hex(m[1]));
  if (token) await ctx.store.revokeToken(token.id, new Date().toISOString());
  return new Response(null, { status: 204 });
});

route("GET", "/api/me", async (ctx, r) => json({ user: userView(await authUser(ctx, r)) }));

route("GET", "/api/agents", async (ctx, r) => {
  await authAdmin(ctx, r);
  return json((await ctx.store.listAgents()).map((a) => agentView(ctx, a)));
});

route("POST", "/api/agents", async (ctx, r) => {
  await authAdmin(ctx, r);
  const body = await readBody(r);
  const name = str(body, "name")!;
  validateName("agent", name);
  const mode = (str(body, "mode", false) ?? "standard") as AgentMode;
  if (mode !== "standard" && mode !== "embedded") {
    throw invalidArgument(`Invalid agent mode "${mode}": use standard or embedded`);
  }
  if (await ctx.store.getAgentByName(name)) {
    throw alreadyExists(`Cannot create agent "${name}": an agent with that name already exists`, {
      hint: 'run "hoop admin get agents"',
    });
  }
  const key = generateAgentKey();
  const agent = await ctx.store.createAgent({
    id: crypto.randomUUID(),
    name,
    mode,
    keyHash: await sha256Hex(key),
    viaOrgKey: false,
    createdAt: new Date().toISOString(),
  });
  ctx.log.info("agent created", { agent: name, mode });
  return json({ agent: agentView(ctx, agent), dsn: agentDsn(ctx, name, key, mode) }, 201);
});

route("DELETE", "/api/agents/{name}", async (ctx, r) => {
  await authAdmin(ctx, r);
  const name = r.params[0];
  const agent = await ctx.store.getAgentByName(name);
  if (!agent) {
    throw notFound(`Cannot delete agent "${name}": no agent with that name`, {
      hint: 'run "hoop admin get agents"',
    });
  }
  await ctx.store.deleteAgent(name);
  ctx.onRevokeAgents([agent.id]);
  ctx.log.info("agent revoked", { agent: name });
  return json({ agent: agentView(ctx, agent) });
});

route("GET", "/api/orgkeys", async (ctx, r) => {
  await authAdmin(ctx, r);
  const org = await ctx.store.getOrgKey();
  if (!org) {
    throw notFound("No organization key exists", { hint: 'run "hoop admin create orgkeys"' });
  }
  return json({ id: org.id, dsn: org.key, created_at: org.createdAt });
});

route("POST", "/api/orgkeys", async (ctx, r) => {
  await authAdmin(ctx, r);
  if (await ctx.store.getOrgKey()) {
    throw alreadyExists("Cannot create the organization key: one exists already", {
      hint: 'show it with "hoop admin get orgkeys" or revoke it with "hoop admin delete orgkeys"',
    });
  }
  const key = generateAgentKey();
  const org = await ctx.store.createOrgKey({
    id: crypto.randomUUID(),
    key: agentDsn(ctx, ORG_KEY_NAME, key, "embedded"),
    keyHash: await sha256Hex(key),
    createdAt: new Date().toISOString(),
  });
  ctx.log.info("organization key created");
  return json({ id: org.id, dsn: org.key, created_at: org.createdAt }, 201);
});

route("DELETE", "/api/orgkeys", async (ctx, r) => {
  await authAdmin(ctx, r);
  const viaOrg = (await ctx.store.listAgents()).filter((a) => a.viaOrgKey).map((a) => a.id);
  const org = await ctx.store.getOrgKey();
  if (!org) throw notFound("Cannot delete the organization key: none exists");
  await ctx.store.deleteOrgKey();
  // Agents on the org key may not have a stored record yet (mid-HELLO); cut every link using it.
  const live = ctx.presence.all().filter((l) => l.viaOrgKey).map((l) => l.agentId);
  ctx.onRevokeAgents([...new Set([...viaOrg, ...live])]);
  ctx.log.info("organization key revoked", { agents: viaOrg.length });
  return json({ id: org.id });
});

route("GET", "/api/connections", async (ctx, r) => {
  const user = await authUser(ctx, r);
  const agents = new Map((await ctx.store.listAgents()).map((a) => [a.id, a]));
  const conns = (await ctx.store.listConnections()).filter((c) => canUse(user, c));
  return json(await Promise.all(conns.map((c) => connectionView(ctx, c, agents))));
});

route("GET", "/api/connections/{name}", async (ctx, r) => {
  const user = await authUser(ctx, r);
  const conn = await visibleConnection(ctx, user, r.params[0]);
  return json({ connection: await connectionView(ctx, conn) });
});

async function visibleConnection(ctx: ApiContext, user: User, name: string): Promise<Connection> {
  const conn = await ctx.store.getConnectionByName(name);
  if (!conn) {
    throw notFound(`Unknown connection "${name}"`, { hint: 'run "hoop admin get connections"' });
  }
  if (!canUse(user, conn)) {
    throw permissionDenied(
      `Access denied to connection "${name}": ${user.email} is in none of its groups`,
    );
  }
  return conn;
}

const CONNECTION_TYPES: ConnectionType[] = ["postgres", "tcp", "command"];

function connectionConfig(type: ConnectionType, raw: unknown): Record<string, string> {
  const c = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const get = (k: string) => {
    const v = c[k];
    if (typeof v !== "string" && typeof v !== "number") {
      throw invalidArgument(`Missing config "${k}" for a ${type} connection`);
    }
    return String(v);
  };
  switch (type) {
    case "postgres": {
      const uri = get("uri");
      let u: URL;
      try {
        u = new URL(uri);
      } catch {
        throw invalidArgument(`Invalid PostgreSQL URI "${redact(uri)}": not a URL`);
      }
      if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
        throw invalidArgument(
          `Invalid PostgreSQL URI "${
            redact(uri)
          }": the scheme must be postgres:// or postgresql://`,
        );
      }
      if (!u.hostname) throw invalidArgument(`Invalid PostgreSQL URI "${redact(uri)}": no host`);
      return { uri };
    }
    case "tcp": {
      const host = get("host");
      const port = get("port");
      if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
        throw invalidArgument(`Invalid port "${port}": use a number from 1 to 65535`);
      }
      return { host, port };
    }
    case "command": {
      const command = get("command").trim();
      if (!command) throw invalidArgument('Missing config "command" for a command connection');
      return { command };
    }
  }
}

route("POST", "/api/connections", async (ctx, r) => {
  await authAdmin(ctx, r);
  const body = await readBody(r);
  const name = str(body, "name")!;
  validateName("connection", name);
  const type = str(body, "type")! as ConnectionType;
  if (!CONNECTION_TYPES.includes(type)) {
    throw invalidArgument(`Invalid connection type "${type}": use ${CONNECTION_TYPES.join(", ")}`);
  }
  const agentName = str(body, "agent")!;
  const agent = await ctx.store.getAgentByName(agentName);
  if (!agent) {
    throw notFound(`Cannot create connection "${name}": no agent named "${agentName}"`, {
      hint: 'run "hoop admin get agents"',
    });
  }
  if (await ctx.store.getConnectionByName(name)) {
    throw alreadyExists(
      `Cannot create connection "${name}": a connection with that name already exists`,
    );
  }
  const conn = await ctx.store.createConnection({
    id: crypto.randomUUID(),
    name,
    type,
    agentId: agent.id,
    config: connectionConfig(type, body.config),
    groups: groupsOf(body),
    createdAt: new Date().toISOString(),
  });
  ctx.log.info("connection created", { conn: name, agent: agentName, type });
  return json({ connection: await connectionView(ctx, conn) }, 201);
});

route("DELETE", "/api/connections/{name}", async (ctx, r) => {
  await authAdmin(ctx, r);
  const name = r.params[0];
  const conn = await ctx.store.getConnectionByName(name);
  if (!conn) throw notFound(`Cannot delete connection "${name}": no connection with that name`);
  const view = await connectionView(ctx, conn);
  await ctx.store.deleteConnection(name);
  return json({ connection: view });
});

route("GET", "/api/users", async (ctx, r) => {
  await authAdmin(ctx, r);
  return json((await ctx.store.listUsers()).map(userView));
});

route("POST", "/api/users", async (ctx, r) => {
  await authAdmin(ctx, r);
  const body = await readBody(r);
  const email = normalizeEmail(str(body, "email")!);
  const role = (str(body, "role", false) ?? "user") as Role;
  if (role !== "admin" && role !== "user") {
    throw invalidArgument(`Invalid role "${role}": use admin or user`);
  }
  let password = str(body, "password", false);
  const generated = password === undefined;
  if (password === undefined) password = generatePassword();
  checkPassword(password);
  if (await ctx.store.getUserByEmail(email)) {
    throw alreadyExists(`Cannot create user "${email}": a user with that email already exists`);
  }
  const user = await ctx.store.createUser({
    id: crypto.randomUUID(),
    email,
    role,
    groups: groupsOf(body),
    passwordHash: await hashPassword(password),
    createdAt: new Date().toISOString(),
  });
  ctx.log.info("user created", { user: email, role });
  return json({ user: userView(user), ...(generated ? { password } : {}) }, 201);
});

route("DELETE", "/api/users/{email}", async (ctx, r) => {
  const admin = await authAdmin(ctx, r);
  const email = normalizeEmail(r.params[0]);
  const user = await ctx.store.getUserByEmail(email);
  if (!user) throw notFound(`Cannot delete user "${email}": no user with that email`);
  if (user.id === admin.id) {
    // Not a usage error (exit 2): the request is well-formed, the gateway's state forbids it.
    throw failedPrecondition(`Cannot delete user "${email}": that is you`, {
      hint: "ask another admin to delete this account",
    });
  }
  await ctx.store.deleteUser(email);
  ctx.broker.endUserSessions(user.id, `user "${email}" was deleted`);
  ctx.log.info("user deleted", { user: email });
  return json({ user: userView(user) });
});

route("GET", "/api/sessions", async (ctx, r) => {
  await authAdmin(ctx, r);
  const q = r.url.searchParams;
  const limitText = q.get("limit");
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw invalidArgument(`Invalid limit "${limitText}": use a whole number from 1 to 10000`);
  }
  const sessions = await ctx.store.listSessions({
    // Emails are stored lower-cased; match the filter the same way.
    userEmail: q.get("user")?.trim().toLowerCase() || undefined,
    connectionName: q.get("connection") ?? undefined,
    limit,
  });
  return json(sessions.map(sessionView));
});

route("GET", "/api/sessions/{id}", async (ctx, r) => {
  await authAdmin(ctx, r);
  const id = r.params[0];
  const session = await ctx.store.getSession(id);
  if (!session) {
    throw notFound(`Unknown session "${id}"`, { hint: 'run "hoop admin get sessions"' });
  }
  const events = await ctx.store.listSessionEvents(id);
  return json({ session: sessionView(session), events: events.map(eventView) });
});

const VERBS: SessionVerb[] = ["connect", "exec", "console"];

route("POST", "/api/sessions", async (ctx, r) => {
  const user = await authUser(ctx, r);
  const body = await readBody(r);
  const conn = await visibleConnection(ctx, user, str(body, "connection")!);
  const verb = (str(body, "verb", false) ?? "connect") as SessionVerb;
  if (!VERBS.includes(verb)) {
    throw invalidArgument(`Invalid verb "${verb}": use ${VERBS.join(", ")}`);
  }
  const allowed = conn.type === "command" ? verb !== "connect" : verb !== "console";
  if (!allowed) {
    throw invalidArgument(`Cannot ${verb} connection "${conn.name}": it is of type ${conn.type}`);
  }
  const agent = await ctx.store.getAgentById(conn.agentId);
  if (!agent) throw notFound(`Connection "${conn.name}" has no agent`);
  const size = (k: string) => {
    const v = body[k];
    return typeof v === "number" && Number.isInteger(v) && v > 0 && v < 10_000 ? v : undefined;
  };
  const opened = await ctx.broker.open({
    user,
    connection: conn,
    agent,
    verb,
    cols: size("cols"),
    rows: size("rows"),
  });
  return json({
    session_id: opened.sessionId,
    ticket: opened.ticket,
    data_addr: ctx.dataAddr,
    data_tls: ctx.dataTls,
    type: conn.type,
  }, 201);
});

// --- helpers ---------------------------------------------------------------

function normalizeEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(e) || e.length > 254) {
    throw invalidArgument(`Invalid email "${email}"`);
  }
  return e;
}

/** Minimum password length for accounts. */
const MIN_PASSWORD_LENGTH = 8;

function checkPassword(pw: string): void {
  if (pw.length < MIN_PASSWORD_LENGTH) {
    throw invalidArgument(`Password too short: use at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}

/**
 * The shared store: PostgreSQL through `npm:postgres`, a small pool, every
 * table in one schema (the URL's `?schema=NAME`, default `public`) so several
 * gateways or test runs can share a database without seeing each other.
 *
 * @module
 */

import postgres from "postgres";
import { HoopError } from "../../proto/errors.ts";
import { redact } from "../../proto/log.ts";
import {
  agentFromRow,
  connectionFromRow,
  eventFromRow,
  type Row,
  sessionFromRow,
  sessionLimit,
  tokenFromRow,
  userFromRow,
} from "./_rows.ts";
import { POSTGRES_MIGRATIONS } from "./postgres_migrations.ts";
import {
  type Agent,
  type AgentPresence,
  type Connection,
  type NewAgent,
  type NewSession,
  type OrgKey,
  type SecretBox,
  type Session,
  type SessionEnd,
  type SessionEvent,
  type SessionFilter,
  type Store,
  StoreConflictError,
  StoreNotFoundError,
  type Token,
  type User,
} from "./store.ts";

/** Pool size: the gateway's store traffic is light; PostgreSQL connections are not free. */
const POOL_MAX = 4;
const CONNECT_TIMEOUT_S = 10;
/** Rows per INSERT of session events: 5 parameters each stays far below the 65535 limit. */
const EVENT_ROWS_PER_INSERT = 1_000;

/** SQLSTATE codes we map. */
const UNIQUE_VIOLATION = "23505";
const FOREIGN_KEY_VIOLATION = "23503";

type Sql = postgres.Sql;

function pgCode(err: unknown): string | undefined {
  return (err as { code?: unknown })?.code as string | undefined;
}

/** Options of {@linkcode openPostgresStore}. */
export interface PostgresStoreOptions {
  /** Seals the org key and connection configs before they are written. */
  secretBox: SecretBox;
}

/** Errors of the socket layer: the server could not be reached at all. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
]);

/** Turn a failure to reach or log in to PostgreSQL into a diagnosis. */
function diagnose(err: unknown, where: string): unknown {
  const code = pgCode(err);
  const reason = redact(err instanceof Error ? err.message : String(err));
  const hint = "check HOOP_DATABASE_URL and that the server accepts connections from this host";
  if (code && NETWORK_CODES.has(code)) {
    return new HoopError(
      "unavailable",
      `Cannot connect to PostgreSQL at "${where}": ${reason}`,
      { cause: err, hint },
    );
  }
  if (code === "28P01" || code === "28000" || code === "3D000") {
    return new HoopError(
      "failed_precondition",
      `Cannot log in to PostgreSQL at "${where}": ${reason}`,
      { cause: err, hint },
    );
  }
  return err;
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Open the PostgreSQL store at `url` (`postgres://` or `postgresql://`, with an
 * optional `?schema=NAME`), create the schema if needed and migrate it.
 */
export async function openPostgresStore(
  url: string,
  opts: PostgresStoreOptions,
): Promise<PostgresStore> {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new HoopError("invalid_argument", `Cannot open store "${redact(url)}": invalid URL`, {
      cause,
    });
  }
  const schema = u.searchParams.get("schema") ?? "public";
  if (!SCHEMA_NAME.test(schema)) {
    throw new HoopError(
      "invalid_argument",
      `Cannot open store "${redact(url)}": schema "${schema}" is not a plain identifier`,
    );
  }
  // postgres.js would send unknown URL parameters to the server as settings.
  u.searchParams.delete("schema");
  const where = `${u.hostname || "localhost"}:${u.port || 5432}`;
  const sql = postgres(u.href, {
    max: POOL_MAX,
    connect_timeout: CONNECT_TIMEOUT_S,
    onnotice: () => {},
    // Every pooled connection resolves unqualified names in our schema.
    connection: { search_path: `"${schema}"` },
  });
  try {
    await migrate(sql, schema);
  } catch (err) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw diagnose(err, where);
  }
  return new PostgresStore(sql, opts.secretBox, schema);
}

async function migrate(sql: Sql, schema: string): Promise<void> {
  // Replicas starting together serialize here; the lock ends with each transaction.
  const lock = (tx: postgres.TransactionSql) =>
    tx`SELECT pg_advisory_xact_lock(hashtext(${"hoop_migrations:" + schema}))`;
  await sql.begin(async (tx) => {
    await lock(tx);
    await tx`CREATE SCHEMA IF NOT EXISTS ${tx(schema)}`;
    await tx`CREATE TABLE IF NOT EXISTS ${tx(schema)}.schema_migrations (
      version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`;
  });
  for (const m of POSTGRES_MIGRATIONS) {
    await sql.begin(async (tx) => {
      await lock(tx);
      const [done] = await tx`SELECT 1 FROM schema_migrations WHERE version = ${m.version}`;
      if (done) return;
      try {
        await tx.unsafe(m.sql);
      } catch (err) {
        throw new Error(
          `Cannot apply PostgreSQL migration ${m.version}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      await tx`INSERT INTO schema_migrations (version, applied_at)
        VALUES (${m.version}, ${new Date().toISOString()})`;
    });
  }
}

/** The PostgreSQL {@linkcode Store}. */
export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  #sql: Sql;
  #box: SecretBox;
  #closed = false;
  /** The schema holding the tables. */
  readonly schema: string;

  /** Use {@linkcode openPostgresStore}, which migrates first. */
  constructor(sql: Sql, box: SecretBox, schema: string) {
    this.#sql = sql;
    this.#box = box;
    this.schema = schema;
  }

  async schemaVersion(): Promise<number> {
    const [r] = await this.#sql`SELECT MAX(version) AS v FROM schema_migrations`;
    return Number(r?.v ?? 0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sql.end({ timeout: 1 });
  }

  // --- agents ---

  async createAgent(a: NewAgent): Promise<Agent> {
    try {
      const [r] = await this.#sql`
        INSERT INTO agents (id, name, mode, key_hash, via_org_key, status, created_at)
        VALUES (${a.id}, ${a.name}, ${a.mode}, ${a.keyHash}, ${a.viaOrgKey}, 'OFFLINE',
          ${a.createdAt})
        RETURNING *`;
      return agentFromRow(r);
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new StoreConflictError("agent", a.name);
      throw err;
    }
  }

  async getAgentByName(name: string): Promise<Agent | undefined> {
    const [r] = await this.#sql`SELECT * FROM agents WHERE name = ${name}`;
    return r && agentFromRow(r);
  }

  async getAgentById(id: string): Promise<Agent | undefined> {
    const [r] = await this.#sql`SELECT * FROM agents WHERE id = ${id}`;
    return r && agentFromRow(r);
  }

  async listAgents(): Promise<Agent[]> {
    const rows = await this.#sql`SELECT * FROM agents ORDER BY name COLLATE "C"`;
    return rows.map(agentFromRow);
  }

  async deleteAgent(name: string): Promise<Agent> {
    return await this.#sql.begin(async (tx) => {
      const [r] = await tx`DELETE FROM agents WHERE name = ${name} RETURNING *`;
      if (!r) throw new StoreNotFoundError("agent", name);
      await tx`DELETE FROM connections WHERE agent_id = ${r.id}`;
      return agentFromRow(r);
    });
  }

  async updateAgentPresence(id: string, p: AgentPresence): Promise<void> {
    const res = await this.#sql`
      UPDATE agents SET status = ${p.status},
        version = COALESCE(${p.version ?? null}, version),
        hostname = COALESCE(${p.hostname ?? null}, hostname),
        platform = COALESCE(${p.platform ?? null}, platform),
        connected_at = COALESCE(${p.connectedAt ?? null}, connected_at),
        seen_at = COALESCE(${p.seenAt ?? null}, seen_at)
      WHERE id = ${id}`;
    if (res.count === 0) throw new StoreNotFoundError("agent", id);
  }

  async markAllAgentsOffline(): Promise<void> {
    await this.#sql`UPDATE agents SET status = 'OFFLINE' WHERE status <> 'OFFLINE'`;
  }

  // --- org key ---

  async #orgKeyFromRow(r: Row): Promise<OrgKey> {
    return {
      id: String(r.id),
      key: await this.#box.open(String(r.key_sealed)),
      keyHash: String(r.key_hash),
      createdAt: String(r.created_at),
    };
  }

  async getOrgKey(): Promise<OrgKey | undefined> {
    const [r] = await this.#sql`SELECT * FROM org_keys WHERE slot = 1`;
    return r && await this.#orgKeyFromRow(r);
  }

  async createOrgKey(key: OrgKey): Promise<OrgKey> {
    const sealed = await this.#box.seal(key.key);
    try {
      await this.#sql`
        INSERT INTO org_keys (slot, id, key_sealed, key_hash, created_at)
        VALUES (1, ${key.id}, ${sealed}, ${key.keyHash}, ${key.createdAt})`;
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new StoreConflictError("org key", key.id);
      throw err;
    }
    return { ...key };
  }

  async deleteOrgKey(): Promise<OrgKey> {
    const r = await this.#sql.begin(async (tx) => {
      const [r] = await tx`DELETE FROM org_keys WHERE slot = 1 RETURNING *`;
      if (!r) throw new StoreNotFoundError("org key", "default");
      await tx`DELETE FROM connections
        WHERE agent_id IN (SELECT id FROM agents WHERE via_org_key)`;
      await tx`DELETE FROM agents WHERE via_org_key`;
      return r;
    });
    return await this.#orgKeyFromRow(r);
  }

  // --- connections ---

  async createConnection(c: Connection): Promise<Connection> {
    const sealed = await this.#box.seal(JSON.stringify(c.config));
    try {
      await this.#sql`
        INSERT INTO connections (id, name, type, agent_id, config_sealed, groups, created_at)
        VALUES (${c.id}, ${c.name}, ${c.type}, ${c.agentId}, ${sealed},
          ${JSON.stringify(c.groups)}, ${c.createdAt})`;
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new StoreConflictError("connection", c.name);
      throw err;
    }
    return structuredClone(c);
  }

  async upsertConnection(c: Connection): Promise<Connection> {
    const sealed = await this.#box.seal(JSON.stringify(c.config));
    let res;
    try {
      // The WHERE turns "same name, other agent" into zero rows instead of an overwrite.
      res = await this.#sql`
        INSERT INTO connections (id, name, type, agent_id, config_sealed, groups, created_at)
        VALUES (${c.id}, ${c.name}, ${c.type}, ${c.agentId}, ${sealed},
          ${JSON.stringify(c.groups)}, ${c.createdAt})
        ON CONFLICT (name) DO UPDATE SET id = EXCLUDED.id, type = EXCLUDED.type,
          config_sealed = EXCLUDED.config_sealed, groups = EXCLUDED.groups,
          created_at = EXCLUDED.created_at
        WHERE connections.agent_id = EXCLUDED.agent_id`;
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new StoreConflictError("connection", c.name);
      throw err;
    }
    if (res.count === 0) throw new StoreConflictError("connection", c.name);
    return structuredClone(c);
  }

  async getConnectionByName(name: string): Promise<Connection | undefined> {
    const [r] = await this.#sql`SELECT * FROM connections WHERE name = ${name}`;
    return r && await connectionFromRow(r, this.#box);
  }

  async listConnections(): Promise<Connection[]> {
    const rows = await this.#sql`SELECT * FROM connections ORDER BY name COLLATE "C"`;
    return await Promise.all(rows.map((r) => connectionFromRow(r, this.#box)));
  }

  async deleteConnection(name: string): Promise<Connection> {
    const [r] = await this.#sql`DELETE FROM connections WHERE name = ${name} RETURNING *`;
    if (!r) throw new StoreNotFoundError("connection", name);
    return await connectionFromRow(r, this.#box);
  }

  // --- users ---

  async createUser(u: User): Promise<User> {
    try {
      await this.#sql`
        INSERT INTO users (id, email, email_key, role, groups, password_hash, created_at)
        VALUES (${u.id}, ${u.email}, ${u.email.toLowerCase()}, ${u.role},
          ${JSON.stringify(u.groups)}, ${u.passwordHash}, ${u.createdAt})`;
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new StoreConflictError("user", u.email);
      throw err;
    }
    return structuredClone(u);
  }

  async getUserByEmail(email: string): Promise<User | undefined> {
    const [r] = await this.#sql`SELECT * FROM users WHERE email_key = ${email.toLowerCase()}`;
    return r && userFromRow(r);
  }

  async getUserById(id: string): Promise<User | undefined> {
    const [r] = await this.#sql`SELECT * FROM users WHERE id = ${id}`;
    return r && userFromRow(r);
  }

  async listUsers(): Promise<User[]> {
    const rows = await this.#sql`SELECT * FROM users ORDER BY email_key COLLATE "C"`;
    return rows.map(userFromRow);
  }

  async countUsers(): Promise<number> {
    const [r] = await this.#sql`SELECT COUNT(*) AS n FROM users`;
    return Number(r.n);
  }

  async deleteUser(email: string): Promise<User> {
    return await this.#sql.begin(async (tx) => {
      const [r] = await tx`DELETE FROM users WHERE email_key = ${email.toLowerCase()} RETURNING *`;
      if (!r) throw new StoreNotFoundError("user", email);
      await tx`DELETE FROM tokens WHERE user_id = ${r.id}`;
      return userFromRow(r);
    });
  }

  // --- tokens ---

  async createToken(t: Token): Promise<Token> {
    try {
      await this.#sql`
        INSERT INTO tokens (id, user_id, token_hash, created_at, expires_at, revoked_at)
        VALUES (${t.id}, ${t.userId}, ${t.tokenHash}, ${t.createdAt}, ${t.expiresAt},
          ${t.revokedAt})`;
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new StoreConflictError("token", t.id);
      throw err;
    }
    return { ...t };
  }

  async getTokenByHash(tokenHash: string): Promise<Token | undefined> {
    const [r] = await this.#sql`SELECT * FROM tokens WHERE token_hash = ${tokenHash}`;
    return r && tokenFromRow(r);
  }

  async revokeToken(id: string, revokedAt: string): Promise<void> {
    // A second revoke keeps the first time: revocation is a fact, not a setting.
    const res = await this.#sql`
      UPDATE tokens SET revoked_at = COALESCE(revoked_at, ${revokedAt}) WHERE id = ${id}`;
    if (res.count === 0) throw new StoreNotFoundError("token", id);
  }

  // --- sessions ---

  async createSession(s: NewSession): Promise<Session> {
    try {
      const [r] = await this.#sql`
        INSERT INTO sessions (id, user_id, user_email, connection_name, connection_type,
          agent_name, verb, status, started_at)
        VALUES (${s.id}, ${s.userId}, ${s.userEmail}, ${s.connectionName}, ${s.connectionType},
          ${s.agentName}, ${s.verb}, 'open', ${s.startedAt})
        RETURNING *`;
      return sessionFromRow(r);
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new StoreConflictError("session", s.id);
      throw err;
    }
  }

  async finishSession(id: string, e: SessionEnd): Promise<Session> {
    const [r] = await this.#sql`
      UPDATE sessions SET status = ${e.status}, exit_code = ${e.exitCode},
        bytes_in = ${e.bytesIn}, bytes_out = ${e.bytesOut}, truncated = ${e.truncated},
        error = ${e.error}, ended_at = ${e.endedAt}
      WHERE id = ${id}
      RETURNING *`;
    if (!r) throw new StoreNotFoundError("session", id);
    return sessionFromRow(r);
  }

  async getSession(id: string): Promise<Session | undefined> {
    const [r] = await this.#sql`SELECT * FROM sessions WHERE id = ${id}`;
    return r && sessionFromRow(r);
  }

  async listSessions(filter: SessionFilter = {}): Promise<Session[]> {
    const sql = this.#sql;
    const byUser = filter.userEmail !== undefined
      ? sql`AND lower(user_email) = ${filter.userEmail.toLowerCase()}`
      : sql``;
    const byConn = filter.connectionName !== undefined
      ? sql`AND connection_name = ${filter.connectionName}`
      : sql``;
    const rows = await sql`
      SELECT * FROM sessions WHERE TRUE ${byUser} ${byConn}
      ORDER BY started_at COLLATE "C" DESC, id COLLATE "C" DESC
      LIMIT ${sessionLimit(filter.limit)}`;
    return rows.map(sessionFromRow);
  }

  async appendSessionEvents(sessionId: string, events: SessionEvent[]): Promise<void> {
    try {
      await this.#sql.begin(async (tx) => {
        const [s] = await tx`SELECT 1 FROM sessions WHERE id = ${sessionId}`;
        if (!s) throw new StoreNotFoundError("session", sessionId);
        for (let i = 0; i < events.length; i += EVENT_ROWS_PER_INSERT) {
          const rows = events.slice(i, i + EVENT_ROWS_PER_INSERT).map((ev) => ({
            session_id: sessionId,
            seq: ev.seq,
            time: ev.time,
            kind: ev.kind,
            data: ev.data,
          }));
          await tx`INSERT INTO session_events ${
            tx(rows, "session_id", "seq", "time", "kind", "data")
          }`;
        }
      });
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) {
        throw new StoreConflictError("session event of", sessionId);
      }
      if (pgCode(err) === FOREIGN_KEY_VIOLATION) throw new StoreNotFoundError("session", sessionId);
      throw err;
    }
  }

  async listSessionEvents(sessionId: string): Promise<SessionEvent[]> {
    const rows = await this.#sql`
      SELECT seq, time, kind, data FROM session_events WHERE session_id = ${sessionId}
      ORDER BY seq`;
    return rows.map(eventFromRow);
  }

  async closeDanglingSessions(endedAt: string, reason: string): Promise<number> {
    const res = await this.#sql`
      UPDATE sessions SET status = 'error', error = ${reason}, ended_at = ${endedAt}
      WHERE status = 'open'`;
    return res.count;
  }
}

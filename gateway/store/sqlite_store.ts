/**
 * The embedded store: SQLite through `node:sqlite` (`DatabaseSync`), WAL
 * journal, a busy timeout so a second process waits instead of failing, and
 * foreign keys on.
 *
 * Every method runs its statements synchronously with no `await` between
 * `BEGIN` and `COMMIT` (sealing and opening secrets happen outside), so one
 * JS call's transaction never interleaves with another's on the shared
 * connection.
 *
 * @module
 */

// node:sqlite is synchronous; the methods stay async so that every failure
// reaches the caller as a rejection, as the Store interface promises.
// deno-lint-ignore-file require-await

import { DatabaseSync, type StatementSync } from "node:sqlite";
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
import { SQLITE_MIGRATIONS } from "./sqlite_migrations.ts";
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

/** How long a statement waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5_000;

type Param = string | number | null | Uint8Array;

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && /UNIQUE constraint failed|PRIMARY KEY/i.test(err.message);
}

/** Options of {@linkcode openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Seals the org key and connection configs before they are written. */
  secretBox: SecretBox;
}

/**
 * Open (creating if needed) the SQLite store at `path` (a file, or
 * `:memory:`) and bring its schema up to date.
 */
export async function openSqliteStore(
  path: string,
  opts: SqliteStoreOptions,
): Promise<SqliteStore> {
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (path !== ":memory:") db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("PRAGMA synchronous = NORMAL");
    migrate(db);
    // The file holds the audit trail (statements, console output): owner only.
    if (path !== ":memory:") {
      for (const f of [path, `${path}-wal`, `${path}-shm`]) {
        try {
          Deno.chmodSync(f, 0o600);
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteStore(db, opts.secretBox);
}

function migrate(db: DatabaseSync): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
  );
  for (const m of SQLITE_MIGRATIONS) {
    // IMMEDIATE takes the write lock first, so two processes opening one
    // fresh file cannot both decide a migration is missing.
    db.exec("BEGIN IMMEDIATE");
    try {
      const done = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").get(m.version);
      if (!done) {
        db.exec(m.sql);
        db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
          .run(m.version, new Date().toISOString());
      }
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw new Error(`Cannot apply SQLite migration ${m.version}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}

/** The SQLite {@linkcode Store}. */
export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  #db: DatabaseSync;
  #box: SecretBox;
  #stmts = new Map<string, StatementSync>();
  #closed = false;

  /** Use {@linkcode openSqliteStore}, which migrates first. */
  constructor(db: DatabaseSync, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  #get(sql: string, ...params: Param[]): Row | undefined {
    return this.#stmt(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: Param[]): Row[] {
    return this.#stmt(sql).all(...params) as Row[];
  }

  #run(sql: string, ...params: Param[]): number {
    return Number(this.#stmt(sql).run(...params).changes);
  }

  #tx<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
  }

  async schemaVersion(): Promise<number> {
    const r = this.#get("SELECT MAX(version) AS v FROM schema_migrations");
    return Number(r?.v ?? 0);
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#stmts.clear();
      this.#db.close();
    }
  }

  // --- agents ---

  async createAgent(a: NewAgent): Promise<Agent> {
    try {
      this.#run(
        `INSERT INTO agents (id, name, mode, key_hash, via_org_key, status, created_at)
         VALUES (?, ?, ?, ?, ?, 'OFFLINE', ?)`,
        a.id,
        a.name,
        a.mode,
        a.keyHash,
        a.viaOrgKey ? 1 : 0,
        a.createdAt,
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError("agent", a.name);
      throw err;
    }
    return (await this.getAgentById(a.id))!;
  }

  async getAgentByName(name: string): Promise<Agent | undefined> {
    const r = this.#get("SELECT * FROM agents WHERE name = ?", name);
    return r && agentFromRow(r);
  }

  async getAgentById(id: string): Promise<Agent | undefined> {
    const r = this.#get("SELECT * FROM agents WHERE id = ?", id);
    return r && agentFromRow(r);
  }

  async listAgents(): Promise<Agent[]> {
    return this.#all("SELECT * FROM agents ORDER BY name").map(agentFromRow);
  }

  async deleteAgent(name: string): Promise<Agent> {
    return this.#tx(() => {
      const r = this.#get("SELECT * FROM agents WHERE name = ?", name);
      if (!r) throw new StoreNotFoundError("agent", name);
      this.#run("DELETE FROM connections WHERE agent_id = ?", String(r.id));
      this.#run("DELETE FROM agents WHERE id = ?", String(r.id));
      return agentFromRow(r);
    });
  }

  async updateAgentPresence(id: string, p: AgentPresence): Promise<void> {
    const n = this.#run(
      `UPDATE agents SET status = ?,
         version = COALESCE(?, version), hostname = COALESCE(?, hostname),
         platform = COALESCE(?, platform), connected_at = COALESCE(?, connected_at),
         seen_at = COALESCE(?, seen_at)
       WHERE id = ?`,
      p.status,
      p.version ?? null,
      p.hostname ?? null,
      p.platform ?? null,
      p.connectedAt ?? null,
      p.seenAt ?? null,
      id,
    );
    if (n === 0) throw new StoreNotFoundError("agent", id);
  }

  async markAllAgentsOffline(): Promise<void> {
    this.#run("UPDATE agents SET status = 'OFFLINE' WHERE status <> 'OFFLINE'");
  }

  // --- org key ---

  async getOrgKey(): Promise<OrgKey | undefined> {
    const r = this.#get("SELECT * FROM org_keys WHERE slot = 1");
    return r && await this.#orgKeyFromRow(r);
  }

  async #orgKeyFromRow(r: Row): Promise<OrgKey> {
    return {
      id: String(r.id),
      key: await this.#box.open(String(r.key_sealed)),
      keyHash: String(r.key_hash),
      createdAt: String(r.created_at),
    };
  }

  async createOrgKey(key: OrgKey): Promise<OrgKey> {
    const sealed = await this.#box.seal(key.key);
    try {
      this.#run(
        "INSERT INTO org_keys (slot, id, key_sealed, key_hash, created_at) VALUES (1, ?, ?, ?, ?)",
        key.id,
        sealed,
        key.keyHash,
        key.createdAt,
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError("org key", key.id);
      throw err;
    }
    return { ...key };
  }

  async deleteOrgKey(): Promise<OrgKey> {
    const r = this.#tx(() => {
      const r = this.#get("SELECT * FROM org_keys WHERE slot = 1");
      if (!r) throw new StoreNotFoundError("org key", "default");
      const agents = this.#all("SELECT id FROM agents WHERE via_org_key = 1");
      for (const a of agents) {
        this.#run("DELETE FROM connections WHERE agent_id = ?", String(a.id));
      }
      this.#run("DELETE FROM agents WHERE via_org_key = 1");
      this.#run("DELETE FROM org_keys WHERE slot = 1");
      return r;
    });
    return await this.#orgKeyFromRow(r);
  }

  // --- connections ---

  async createConnection(c: Connection): Promise<Connection> {
    const sealed = await this.#box.seal(JSON.stringify(c.config));
    try {
      this.#run(
        `INSERT INTO connections (id, name, type, agent_id, config_sealed, groups, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        c.id,
        c.name,
        c.type,
        c.agentId,
        sealed,
        JSON.stringify(c.groups),
        c.createdAt,
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError("connection", c.name);
      throw err;
    }
    return structuredClone(c);
  }

  async upsertConnection(c: Connection): Promise<Connection> {
    const sealed = await this.#box.seal(JSON.stringify(c.config));
    this.#tx(() => {
      const old = this.#get("SELECT agent_id FROM connections WHERE name = ?", c.name);
      if (old && String(old.agent_id) !== c.agentId) {
        throw new StoreConflictError("connection", c.name);
      }
      if (old) this.#run("DELETE FROM connections WHERE name = ?", c.name);
      try {
        this.#run(
          `INSERT INTO connections (id, name, type, agent_id, config_sealed, groups, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
          c.id,
          c.name,
          c.type,
          c.agentId,
          sealed,
          JSON.stringify(c.groups),
          c.createdAt,
        );
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreConflictError("connection", c.name);
        throw err;
      }
    });
    return structuredClone(c);
  }

  async getConnectionByName(name: string): Promise<Connection | undefined> {
    const r = this.#get("SELECT * FROM connections WHERE name = ?", name);
    return r && await connectionFromRow(r, this.#box);
  }

  async listConnections(): Promise<Connection[]> {
    const rows = this.#all("SELECT * FROM connections ORDER BY name");
    return await Promise.all(rows.map((r) => connectionFromRow(r, this.#box)));
  }

  async deleteConnection(name: string): Promise<Connection> {
    const r = this.#tx(() => {
      const r = this.#get("SELECT * FROM connections WHERE name = ?", name);
      if (!r) throw new StoreNotFoundError("connection", name);
      this.#run("DELETE FROM connections WHERE name = ?", name);
      return r;
    });
    return await connectionFromRow(r, this.#box);
  }

  // --- users ---

  async createUser(u: User): Promise<User> {
    try {
      this.#run(
        `INSERT INTO users (id, email, email_key, role, groups, password_hash, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        u.id,
        u.email,
        u.email.toLowerCase(),
        u.role,
        JSON.stringify(u.groups),
        u.passwordHash,
        u.createdAt,
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError("user", u.email);
      throw err;
    }
    return structuredClone(u);
  }

  async getUserByEmail(email: string): Promise<User | undefined> {
    const r = this.#get("SELECT * FROM users WHERE email_key = ?", email.toLowerCase());
    return r && userFromRow(r);
  }

  async getUserById(id: string): Promise<User | undefined> {
    const r = this.#get("SELECT * FROM users WHERE id = ?", id);
    return r && userFromRow(r);
  }

  async listUsers(): Promise<User[]> {
    return this.#all("SELECT * FROM users ORDER BY email_key").map(userFromRow);
  }

  async countUsers(): Promise<number> {
    return Number(this.#get("SELECT COUNT(*) AS n FROM users")!.n);
  }

  async deleteUser(email: string): Promise<User> {
    return this.#tx(() => {
      const r = this.#get("SELECT * FROM users WHERE email_key = ?", email.toLowerCase());
      if (!r) throw new StoreNotFoundError("user", email);
      this.#run("DELETE FROM tokens WHERE user_id = ?", String(r.id));
      this.#run("DELETE FROM users WHERE id = ?", String(r.id));
      return userFromRow(r);
    });
  }

  // --- tokens ---

  async createToken(t: Token): Promise<Token> {
    try {
      this.#run(
        `INSERT INTO tokens (id, user_id, token_hash, created_at, expires_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
        t.id,
        t.userId,
        t.tokenHash,
        t.createdAt,
        t.expiresAt,
        t.revokedAt,
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError("token", t.id);
      throw err;
    }
    return { ...t };
  }

  async getTokenByHash(tokenHash: string): Promise<Token | undefined> {
    const r = this.#get("SELECT * FROM tokens WHERE token_hash = ?", tokenHash);
    return r && tokenFromRow(r);
  }

  async revokeToken(id: string, revokedAt: string): Promise<void> {
    // A second revoke keeps the first time: revocation is a fact, not a setting.
    const n = this.#run(
      "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
      revokedAt,
      id,
    );
    if (n === 0) throw new StoreNotFoundError("token", id);
  }

  // --- sessions ---

  async createSession(s: NewSession): Promise<Session> {
    try {
      this.#run(
        `INSERT INTO sessions (id, user_id, user_email, connection_name, connection_type,
           agent_name, verb, status, started_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)`,
        s.id,
        s.userId,
        s.userEmail,
        s.connectionName,
        s.connectionType,
        s.agentName,
        s.verb,
        s.startedAt,
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError("session", s.id);
      throw err;
    }
    return (await this.getSession(s.id))!;
  }

  async finishSession(id: string, e: SessionEnd): Promise<Session> {
    return this.#tx(() => {
      const n = this.#run(
        `UPDATE sessions SET status = ?, exit_code = ?, bytes_in = ?, bytes_out = ?,
           truncated = ?, error = ?, ended_at = ?
         WHERE id = ?`,
        e.status,
        e.exitCode,
        e.bytesIn,
        e.bytesOut,
        e.truncated ? 1 : 0,
        e.error,
        e.endedAt,
        id,
      );
      if (n === 0) throw new StoreNotFoundError("session", id);
      return sessionFromRow(this.#get("SELECT * FROM sessions WHERE id = ?", id)!);
    });
  }

  async getSession(id: string): Promise<Session | undefined> {
    const r = this.#get("SELECT * FROM sessions WHERE id = ?", id);
    return r && sessionFromRow(r);
  }

  async listSessions(filter: SessionFilter = {}): Promise<Session[]> {
    const where: string[] = [];
    const params: Param[] = [];
    if (filter.userEmail !== undefined) {
      where.push("lower(user_email) = ?");
      params.push(filter.userEmail.toLowerCase());
    }
    if (filter.connectionName !== undefined) {
      where.push("connection_name = ?");
      params.push(filter.connectionName);
    }
    const sql = `SELECT * FROM sessions ${where.length ? "WHERE " + where.join(" AND ") : ""}
      ORDER BY started_at DESC, id DESC LIMIT ?`;
    return this.#all(sql, ...params, sessionLimit(filter.limit)).map(sessionFromRow);
  }

  async appendSessionEvents(sessionId: string, events: SessionEvent[]): Promise<void> {
    try {
      this.#tx(() => {
        if (!this.#get("SELECT 1 FROM sessions WHERE id = ?", sessionId)) {
          throw new StoreNotFoundError("session", sessionId);
        }
        for (const ev of events) {
          this.#run(
            "INSERT INTO session_events (session_id, seq, time, kind, data) VALUES (?, ?, ?, ?, ?)",
            sessionId,
            ev.seq,
            ev.time,
            ev.kind,
            ev.data,
          );
        }
      });
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new StoreConflictError("session event of", sessionId);
      }
      throw err;
    }
  }

  async listSessionEvents(sessionId: string): Promise<SessionEvent[]> {
    const rows = this.#all(
      "SELECT seq, time, kind, data FROM session_events WHERE session_id = ? ORDER BY seq",
      sessionId,
    );
    return rows.map(eventFromRow);
  }

  async closeDanglingSessions(endedAt: string, reason: string): Promise<number> {
    return this.#run(
      "UPDATE sessions SET status = 'error', error = ?, ended_at = ? WHERE status = 'open'",
      reason,
      endedAt,
    );
  }
}

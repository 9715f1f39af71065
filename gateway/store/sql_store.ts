/**
 * The {@linkcode Store}, written once: every method's SQL in the dialect both
 * backends speak, run through a {@linkcode SqlDriver} that only translates.
 * Secrets are sealed before a statement runs and opened after it, so no
 * transaction waits on the secret box.
 *
 * @module
 */

import {
  agentFromRow,
  connectionFromRow,
  eventFromRow,
  orgKeyFromRow,
  sessionFromRow,
  sessionLimit,
  tokenFromRow,
  userFromRow,
} from "./_rows.ts";
import type { Row, SqlDriver, SqlParam } from "./sql_driver.ts";
import { decodeEventBatch, encodeEventBatch, seqRange, splitEventBatches } from "./event_batch.ts";
import {
  type Agent,
  type AgentPresence,
  type Connection,
  type DirectoryIdentityKey,
  type NewAgent,
  type NewSession,
  type OrgKey,
  type Role,
  type SecretBox,
  type Session,
  type SessionEnd,
  type SessionEvent,
  type SessionFilter,
  type SessionProgress,
  type SsoGrant,
  type Store,
  StoreConflictError,
  StoreNotFoundError,
  type Token,
  type User,
} from "./store.ts";

const INSERT_CONNECTION = `
  INSERT INTO connections (id, name, type, agent_id, config_sealed, groups, created_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7)`;

const INSERT_USER = `
  INSERT INTO users (id, email, email_key, role, groups, password_hash, created_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7)`;

function connectionParams(c: Connection, sealed: string): SqlParam[] {
  return [c.id, c.name, c.type, c.agentId, sealed, JSON.stringify(c.groups), c.createdAt];
}

function userParams(u: User): SqlParam[] {
  return [
    u.id,
    u.email,
    u.email.toLowerCase(),
    u.role,
    JSON.stringify(u.groups),
    u.passwordHash,
    u.createdAt,
  ];
}

/** The {@linkcode Store} over a {@linkcode SqlDriver}; the store owns the driver and closes it. */
export class SqlStore implements Store {
  readonly kind: "sqlite" | "postgres";
  #db: SqlDriver;
  #box: SecretBox;

  /** `driver` must be migrated already, as `openSqliteDriver` and `openPostgresDriver` do. */
  constructor(driver: SqlDriver, box: SecretBox) {
    this.kind = driver.kind;
    this.#db = driver;
    this.#box = box;
  }

  async #one(sql: string, params: readonly SqlParam[] = []): Promise<Row | undefined> {
    return (await this.#db.all(sql, params))[0];
  }

  /** Run an insert, turning a duplicate key into the store's conflict error. */
  async #insert(what: string, name: string, sql: string, params: SqlParam[]): Promise<Row[]> {
    try {
      return await this.#db.all(sql, params);
    } catch (err) {
      throw this.#conflict(err, what, name);
    }
  }

  /**
   * Delete the rows that hang on a row (`dependents`), then the row itself
   * (`sql`, a `DELETE ... RETURNING *`), all with the same parameters and in
   * one transaction: the row, or StoreNotFoundError with nothing deleted.
   */
  async #deleteWith(
    what: string,
    name: string,
    dependents: string[],
    sql: string,
    params: SqlParam[] = [],
  ): Promise<Row> {
    return await this.#db.tx(async (q) => {
      for (const d of dependents) await q.run(d, params);
      const [r] = await q.all(sql, params);
      if (!r) throw new StoreNotFoundError(what, name);
      return r;
    });
  }

  #conflict(err: unknown, what: string, name: string): unknown {
    return this.#db.isUniqueViolation(err) ? new StoreConflictError(what, name) : err;
  }

  async schemaVersion(): Promise<number> {
    const r = await this.#one("SELECT MAX(version) AS v FROM schema_migrations");
    return Number(r?.v ?? 0);
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  // --- agents ---

  async createAgent(a: NewAgent): Promise<Agent> {
    const [r] = await this.#insert(
      "agent",
      a.name,
      `INSERT INTO agents (id, name, mode, key_hash, via_org_key, status, created_at)
       VALUES ($1, $2, $3, $4, $5, 'OFFLINE', $6)
       RETURNING *`,
      [a.id, a.name, a.mode, a.keyHash, a.viaOrgKey, a.createdAt],
    );
    return agentFromRow(r);
  }

  async getAgentByName(name: string): Promise<Agent | undefined> {
    const r = await this.#one("SELECT * FROM agents WHERE name = $1", [name]);
    return r && agentFromRow(r);
  }

  async getAgentById(id: string): Promise<Agent | undefined> {
    const r = await this.#one("SELECT * FROM agents WHERE id = $1", [id]);
    return r && agentFromRow(r);
  }

  async listAgents(): Promise<Agent[]> {
    return (await this.#db.all('SELECT * FROM agents ORDER BY name COLLATE "C"')).map(agentFromRow);
  }

  async deleteAgent(name: string): Promise<Agent> {
    const r = await this.#deleteWith(
      "agent",
      name,
      ["DELETE FROM connections WHERE agent_id IN (SELECT id FROM agents WHERE name = $1)"],
      "DELETE FROM agents WHERE name = $1 RETURNING *",
      [name],
    );
    return agentFromRow(r);
  }

  async updateAgentPresence(id: string, p: AgentPresence): Promise<void> {
    const n = await this.#db.run(
      `UPDATE agents SET status = $1,
         version = COALESCE($2, version), hostname = COALESCE($3, hostname),
         platform = COALESCE($4, platform), connected_at = COALESCE($5, connected_at),
         seen_at = COALESCE($6, seen_at)
       WHERE id = $7`,
      [
        p.status,
        p.version ?? null,
        p.hostname ?? null,
        p.platform ?? null,
        p.connectedAt ?? null,
        p.seenAt ?? null,
        id,
      ],
    );
    if (n === 0) throw new StoreNotFoundError("agent", id);
  }

  async markAllAgentsOffline(): Promise<void> {
    await this.#db.run("UPDATE agents SET status = 'OFFLINE' WHERE status <> 'OFFLINE'");
  }

  // --- org key ---

  async getOrgKey(): Promise<OrgKey | undefined> {
    const r = await this.#one("SELECT * FROM org_keys WHERE slot = 1");
    return r && await orgKeyFromRow(r, this.#box);
  }

  async createOrgKey(key: OrgKey): Promise<OrgKey> {
    const sealed = await this.#box.seal(key.key);
    await this.#insert(
      "org key",
      key.id,
      "INSERT INTO org_keys (slot, id, key_sealed, key_hash, created_at) VALUES (1, $1, $2, $3, $4)",
      [key.id, sealed, key.keyHash, key.createdAt],
    );
    return { ...key };
  }

  async deleteOrgKey(): Promise<OrgKey> {
    const r = await this.#deleteWith("org key", "default", [
      "DELETE FROM connections WHERE agent_id IN (SELECT id FROM agents WHERE via_org_key)",
      "DELETE FROM agents WHERE via_org_key",
    ], "DELETE FROM org_keys WHERE slot = 1 RETURNING *");
    return await orgKeyFromRow(r, this.#box);
  }

  // --- connections ---

  async createConnection(c: Connection): Promise<Connection> {
    const sealed = await this.#box.seal(JSON.stringify(c.config));
    await this.#insert("connection", c.name, INSERT_CONNECTION, connectionParams(c, sealed));
    return structuredClone(c);
  }

  async upsertConnection(c: Connection): Promise<Connection> {
    const sealed = await this.#box.seal(JSON.stringify(c.config));
    let n;
    try {
      // The WHERE turns "same name, other agent" into zero rows instead of an overwrite.
      n = await this.#db.run(
        `${INSERT_CONNECTION}
         ON CONFLICT (name) DO UPDATE SET id = EXCLUDED.id, type = EXCLUDED.type,
           config_sealed = EXCLUDED.config_sealed, groups = EXCLUDED.groups,
           created_at = EXCLUDED.created_at
         WHERE connections.agent_id = EXCLUDED.agent_id`,
        connectionParams(c, sealed),
      );
    } catch (err) {
      throw this.#conflict(err, "connection", c.name);
    }
    if (n === 0) throw new StoreConflictError("connection", c.name);
    return structuredClone(c);
  }

  async updateConnectionGroups(name: string, groups: string[]): Promise<Connection> {
    const r = await this.#one(
      "UPDATE connections SET groups = $1 WHERE name = $2 RETURNING *",
      [JSON.stringify(groups), name],
    );
    if (!r) throw new StoreNotFoundError("connection", name);
    return await connectionFromRow(r, this.#box);
  }

  async getConnectionByName(name: string): Promise<Connection | undefined> {
    const r = await this.#one("SELECT * FROM connections WHERE name = $1", [name]);
    return r && await connectionFromRow(r, this.#box);
  }

  async listConnections(): Promise<Connection[]> {
    const rows = await this.#db.all('SELECT * FROM connections ORDER BY name COLLATE "C"');
    return await Promise.all(rows.map((r) => connectionFromRow(r, this.#box)));
  }

  async deleteConnection(name: string): Promise<Connection> {
    const r = await this.#one("DELETE FROM connections WHERE name = $1 RETURNING *", [name]);
    if (!r) throw new StoreNotFoundError("connection", name);
    return await connectionFromRow(r, this.#box);
  }

  // --- users ---

  async createUser(u: User): Promise<User> {
    await this.#insert("user", u.email, INSERT_USER, userParams(u));
    return structuredClone(u);
  }

  async createFirstUser(u: User): Promise<User> {
    await this.#db.tx(async (q) => {
      const [r] = await q.all("SELECT COUNT(*) AS n FROM users");
      if (Number(r.n) > 0) {
        throw new StoreConflictError("user", u.email, "cannot be the first: a user exists already");
      }
      await q.run(INSERT_USER, userParams(u));
    }, { exclusiveTable: "users" });
    return structuredClone(u);
  }

  async getUserByEmail(email: string): Promise<User | undefined> {
    const r = await this.#one("SELECT * FROM users WHERE email_key = $1", [email.toLowerCase()]);
    return r && userFromRow(r);
  }

  async getUserById(id: string): Promise<User | undefined> {
    const r = await this.#one("SELECT * FROM users WHERE id = $1", [id]);
    return r && userFromRow(r);
  }

  async listUsers(): Promise<User[]> {
    const rows = await this.#db.all('SELECT * FROM users ORDER BY email_key COLLATE "C"');
    return rows.map(userFromRow);
  }

  async countUsers(): Promise<number> {
    return Number((await this.#one("SELECT COUNT(*) AS n FROM users"))!.n);
  }

  async deleteUser(email: string): Promise<User> {
    const r = await this.#deleteWith(
      "user",
      email,
      [
        "DELETE FROM tokens WHERE user_id IN (SELECT id FROM users WHERE email_key = $1)",
        "DELETE FROM user_identities WHERE user_id IN (SELECT id FROM users WHERE email_key = $1)",
        "DELETE FROM sso_grants WHERE user_id IN (SELECT id FROM users WHERE email_key = $1)",
      ],
      "DELETE FROM users WHERE email_key = $1 RETURNING *",
      [email.toLowerCase()],
    );
    return userFromRow(r);
  }

  async createDirectoryUser(u: User, identity: DirectoryIdentityKey): Promise<User> {
    try {
      await this.#db.tx(async (q) => {
        await q.run(INSERT_USER, userParams(u));
        await q.run(
          "INSERT INTO user_identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4)",
          [identity.issuer, identity.subject, u.id, u.createdAt],
        );
      });
    } catch (err) {
      throw this.#conflict(err, "user", u.email);
    }
    return structuredClone(u);
  }

  async getUserByIdentity(identity: DirectoryIdentityKey): Promise<User | undefined> {
    const r = await this.#one(
      `SELECT users.* FROM users JOIN user_identities ON user_identities.user_id = users.id
       WHERE user_identities.issuer = $1 AND user_identities.subject = $2`,
      [identity.issuer, identity.subject],
    );
    return r ? userFromRow(r) : undefined;
  }

  async putSsoGrant(g: SsoGrant): Promise<void> {
    const sealed = await this.#box.seal(g.refreshToken);
    await this.#db.run(
      `INSERT INTO sso_grants (token_id, user_id, refresh_token_sealed, checked_at)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (token_id) DO UPDATE
         SET refresh_token_sealed = excluded.refresh_token_sealed, checked_at = excluded.checked_at`,
      [g.tokenId, g.userId, sealed, g.checkedAt],
    );
  }

  async listSsoGrantsDue(checkedBefore: string, now: string, limit: number): Promise<SsoGrant[]> {
    const rows = await this.#db.all(
      `SELECT sso_grants.* FROM sso_grants JOIN tokens ON tokens.id = sso_grants.token_id
       WHERE sso_grants.checked_at <= $1 AND tokens.revoked_at IS NULL AND tokens.expires_at > $2
       ORDER BY sso_grants.checked_at LIMIT $3`,
      [checkedBefore, now, limit],
    );
    const grants: SsoGrant[] = [];
    for (const r of rows) {
      grants.push({
        tokenId: String(r.token_id),
        userId: String(r.user_id),
        refreshToken: await this.#box.open(String(r.refresh_token_sealed)),
        checkedAt: String(r.checked_at),
      });
    }
    return grants;
  }

  async pruneSsoGrants(now: string): Promise<number> {
    return await this.#db.run(
      `DELETE FROM sso_grants WHERE token_id NOT IN (
         SELECT id FROM tokens WHERE revoked_at IS NULL AND expires_at > $1)`,
      [now],
    );
  }

  async updateUserAccess(id: string, access: { role: Role; groups: string[] }): Promise<User> {
    const r = await this.#one(
      "UPDATE users SET role = $1, groups = $2 WHERE id = $3 RETURNING *",
      [access.role, JSON.stringify(access.groups), id],
    );
    if (!r) throw new StoreNotFoundError("user", id);
    return userFromRow(r);
  }

  // --- tokens ---

  async createToken(t: Token): Promise<Token> {
    await this.#insert(
      "token",
      t.id,
      `INSERT INTO tokens (id, user_id, token_hash, created_at, expires_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [t.id, t.userId, t.tokenHash, t.createdAt, t.expiresAt, t.revokedAt],
    );
    return { ...t };
  }

  async getTokenByHash(tokenHash: string): Promise<Token | undefined> {
    const r = await this.#one("SELECT * FROM tokens WHERE token_hash = $1", [tokenHash]);
    return r && tokenFromRow(r);
  }

  async revokeToken(id: string, revokedAt: string): Promise<void> {
    // A second revoke keeps the first time: revocation is a fact, not a setting.
    const n = await this.#db.run(
      "UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
      [revokedAt, id],
    );
    if (n === 0) throw new StoreNotFoundError("token", id);
  }

  // --- sessions ---

  async createSession(s: NewSession): Promise<Session> {
    const [r] = await this.#insert(
      "session",
      s.id,
      `INSERT INTO sessions (id, user_id, user_email, connection_name, connection_type,
         agent_name, verb, status, started_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8)
       RETURNING *`,
      [
        s.id,
        s.userId,
        s.userEmail,
        s.connectionName,
        s.connectionType,
        s.agentName,
        s.verb,
        s
          .startedAt,
      ],
    );
    return sessionFromRow(r);
  }

  async finishSession(id: string, e: SessionEnd): Promise<Session> {
    const r = await this.#one(
      `UPDATE sessions SET status = $1, exit_code = $2, bytes_in = $3, bytes_out = $4,
         truncated = $5, error = $6, ended_at = $7
       WHERE id = $8
       RETURNING *`,
      [e.status, e.exitCode, e.bytesIn, e.bytesOut, e.truncated, e.error, e.endedAt, id],
    );
    if (!r) throw new StoreNotFoundError("session", id);
    return sessionFromRow(r);
  }

  async recordSessionProgress(id: string, p: SessionProgress): Promise<void> {
    await this.#db.run(
      `UPDATE sessions SET bytes_in = $1, bytes_out = $2, truncated = $3
       WHERE id = $4 AND status = 'open'`,
      [p.bytesIn, p.bytesOut, p.truncated, id],
    );
  }

  async getSession(id: string): Promise<Session | undefined> {
    const r = await this.#one("SELECT * FROM sessions WHERE id = $1", [id]);
    return r && sessionFromRow(r);
  }

  async listSessions(filter: SessionFilter = {}): Promise<Session[]> {
    const where: string[] = [];
    const params: SqlParam[] = [];
    const param = (v: SqlParam) => `$${params.push(v)}`;
    if (filter.userEmail !== undefined) {
      where.push(`lower(user_email) = ${param(filter.userEmail.toLowerCase())}`);
    }
    if (filter.connectionName !== undefined) {
      where.push(`connection_name = ${param(filter.connectionName)}`);
    }
    if (filter.verb !== undefined) where.push(`verb = ${param(filter.verb)}`);
    if (filter.status !== undefined) where.push(`status = ${param(filter.status)}`);
    // ISO times in one format (toISOString) sort as text, byte by byte.
    if (filter.since !== undefined) {
      where.push(`started_at COLLATE "C" >= ${param(filter.since)}`);
    }
    if (filter.until !== undefined) {
      where.push(`started_at COLLATE "C" <= ${param(filter.until)}`);
    }
    const sql = `SELECT * FROM sessions ${where.length ? "WHERE " + where.join(" AND ") : ""}
      ORDER BY started_at COLLATE "C" DESC, id COLLATE "C" DESC
      LIMIT ${param(sessionLimit(filter.limit))}`;
    return (await this.#db.all(sql, params)).map(sessionFromRow);
  }

  /**
   * One row per batch (gateway/store/event_batch.ts). A seq already stored,
   * in a batch or in a row of the per-event table of earlier versions, or
   * twice in `events`, refuses the whole call.
   */
  async appendSessionEvents(sessionId: string, events: SessionEvent[]): Promise<void> {
    if (events.length === 0) return;
    const seqs = new Set(events.map((ev) => ev.seq));
    if (seqs.size < events.length) throw new StoreConflictError("session event of", sessionId);
    const { first, last } = seqRange(events);
    try {
      await this.#db.tx(async (q) => {
        if (!(await q.all("SELECT 1 FROM sessions WHERE id = $1", [sessionId]))[0]) {
          throw new StoreNotFoundError("session", sessionId);
        }
        // The recorder appends in seq order: a batch past every stored one needs no
        // search (one index probe); only an out-of-order batch reads its neighbours.
        const top = await q.all(
          "SELECT MAX(last_seq) AS m FROM session_event_batches WHERE session_id = $1",
          [sessionId],
        );
        const inOrder = top[0]?.m === null || top[0]?.m === undefined || Number(top[0].m) < first;
        const overlapping = inOrder ? [] : await q.all(
          "SELECT events FROM session_event_batches WHERE session_id = $1 AND first_seq <= $2 AND last_seq >= $3",
          [sessionId, last, first],
        );
        const legacy = await q.all(
          "SELECT seq FROM session_events WHERE session_id = $1 AND seq BETWEEN $2 AND $3",
          [sessionId, first, last],
        );
        const taken = legacy.some((r) => seqs.has(Number(r.seq))) ||
          overlapping.some((r) =>
            decodeEventBatch(r.events as Uint8Array).some((ev) => seqs.has(ev.seq))
          );
        if (taken) throw new StoreConflictError("session event of", sessionId);
        for (const run of splitEventBatches(events)) {
          const range = seqRange(run);
          await q.run(
            "INSERT INTO session_event_batches (session_id, first_seq, last_seq, events) VALUES ($1, $2, $3, $4)",
            [sessionId, range.first, range.last, encodeEventBatch(run)],
          );
        }
      });
    } catch (err) {
      throw this.#conflict(err, "session event of", sessionId);
    }
  }

  async listSessionEvents(sessionId: string): Promise<SessionEvent[]> {
    const legacy = await this.#db.all(
      "SELECT seq, time, kind, data FROM session_events WHERE session_id = $1 ORDER BY seq",
      [sessionId],
    );
    const batches = await this.#db.all(
      "SELECT events FROM session_event_batches WHERE session_id = $1 ORDER BY first_seq",
      [sessionId],
    );
    const events = legacy.map(eventFromRow);
    for (const b of batches) events.push(...decodeEventBatch(b.events as Uint8Array));
    return events.sort((a, b) => a.seq - b.seq);
  }

  async closeDanglingSessions(endedAt: string, reason: string): Promise<number> {
    return await this.#db.run(
      "UPDATE sessions SET status = 'error', error = $1, ended_at = $2 WHERE status = 'open'",
      [reason, endedAt],
    );
  }
}

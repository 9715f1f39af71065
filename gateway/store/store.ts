/**
 * The gateway's store: one interface, written once in SQL (`sql_store.ts`)
 * over two drivers (embedded SQLite through `node:sqlite`, PostgreSQL through
 * `npm:postgres`), one behaviour checked by the conformance suite in
 * `_store_conformance.ts`.
 *
 * Conventions, the same in both backends:
 * - The gateway generates ids (`crypto.randomUUID()`) and timestamps (UTC ISO
 *   8601 strings with milliseconds) so the backends cannot drift.
 * - `get*` methods return `undefined` when the thing is absent; `delete*`,
 *   `update*` and `finish*` methods throw {@linkcode StoreNotFoundError};
 *   `create*` methods throw {@linkcode StoreConflictError} on a duplicate name.
 * - Secrets (the org key, connection configs) are sealed with the
 *   {@linkcode SecretBox} given at open time before they are written; what the
 *   interface takes and returns is plain text.
 *
 * @module
 */
// The enumerations of the domain are the wire's: one definition, so the API
// and the store cannot drift apart.
import type {
  AgentMode,
  AgentStatus,
  ConnectionType,
  Role,
  SessionEventKind,
  SessionStatus,
  SessionVerb,
} from "../../proto/api_types.ts";
export type {
  AgentMode,
  AgentStatus,
  ConnectionType,
  Role,
  SessionEventKind,
  SessionStatus,
  SessionVerb,
};

/** A registered agent (one per agent key, or one per embedded `hoop run` with the org key). */
export interface Agent {
  id: string;
  name: string;
  mode: AgentMode;
  /** Hex SHA-256 of the auth key; `null` for agents that authenticate with the org key. */
  keyHash: string | null;
  /** True when the agent was registered through the org key. */
  viaOrgKey: boolean;
  status: AgentStatus;
  /** Reported at connect; `null` until the agent first connected. */
  version: string | null;
  hostname: string | null;
  platform: string | null;
  createdAt: string;
  connectedAt: string | null;
  seenAt: string | null;
}

/** Input of {@linkcode Store.createAgent}. */
export interface NewAgent {
  id: string;
  name: string;
  mode: AgentMode;
  keyHash: string | null;
  viaOrgKey: boolean;
  createdAt: string;
}

/** Presence fields an agent reports; absent fields are left as they are. */
export interface AgentPresence {
  status: AgentStatus;
  version?: string;
  hostname?: string;
  platform?: string;
  connectedAt?: string;
  seenAt?: string;
}

/** The organization key (one per gateway). */
export interface OrgKey {
  id: string;
  /** The full DSN or key text, decrypted. */
  key: string;
  /** Hex SHA-256 of the auth key part, for constant-time checks. */
  keyHash: string;
  createdAt: string;
}

/** A resource reachable through an agent. */
export interface Connection {
  id: string;
  name: string;
  type: ConnectionType;
  agentId: string;
  /**
   * Type-specific settings, decrypted: postgres `{ uri }`, tcp `{ host, port }`,
   * command `{ command }`. Embedded agents keep secrets to themselves and publish
   * a redacted config.
   */
  config: Record<string, string>;
  /** Access groups; a user may use the connection when groups intersect. */
  groups: string[];
  createdAt: string;
}

/** A local account. */
export interface User {
  id: string;
  email: string;
  role: Role;
  groups: string[];
  /** Encoded password hash (`pbkdf2-sha256$iterations$salt$hash`). */
  passwordHash: string;
  createdAt: string;
}

/** Who a single sign-on user is at their provider: the ID token's `iss` and `sub`. */
export interface DirectoryIdentityKey {
  issuer: string;
  subject: string;
}

/** A single sign-on's standing at the provider, kept to check it again later. */
export interface SsoGrant {
  /** The hoop token this login issued. */
  tokenId: string;
  userId: string;
  /** The provider's refresh token (plain here; the store seals it). */
  refreshToken: string;
  /** When the provider last vouched for the login. */
  checkedAt: string;
}

/** An API token; only its hash is stored. */
export interface Token {
  id: string;
  userId: string;
  /** Hex SHA-256 of the token text. */
  tokenHash: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

/** One audited `connect` (per TCP connection or console) or `exec`. */
export interface Session {
  id: string;
  userId: string;
  userEmail: string;
  connectionName: string;
  connectionType: ConnectionType;
  agentName: string;
  verb: SessionVerb;
  status: SessionStatus;
  exitCode: number | null;
  /** Client → resource bytes. */
  bytesIn: number;
  /** Resource → client bytes. */
  bytesOut: number;
  /** True when recorded input/output passed the audit cap and was cut. */
  truncated: boolean;
  /** Why the session failed, for status `error`. */
  error: string | null;
  startedAt: string;
  endedAt: string | null;
}

/** Input of {@linkcode Store.createSession}; starts with status `open`. */
export type NewSession = Pick<
  Session,
  | "id"
  | "userId"
  | "userEmail"
  | "connectionName"
  | "connectionType"
  | "agentName"
  | "verb"
  | "startedAt"
>;

/** Running totals of {@linkcode Store.recordSessionProgress}. */
export type SessionProgress = Pick<SessionEnd, "bytesIn" | "bytesOut" | "truncated">;

/** Final fields of {@linkcode Store.finishSession}. */
export interface SessionEnd {
  status: "done" | "error";
  exitCode: number | null;
  bytesIn: number;
  bytesOut: number;
  truncated: boolean;
  error: string | null;
  endedAt: string;
}

/** One appended event of a session. */
export interface SessionEvent {
  /** Position in the session, from 0, assigned by the caller in order. */
  seq: number;
  /** UTC time of the event. */
  time: string;
  kind: SessionEventKind;
  data: Uint8Array;
}

/** Filters of {@linkcode Store.listSessions}. */
export interface SessionFilter {
  userEmail?: string;
  connectionName?: string;
  verb?: SessionVerb;
  status?: SessionStatus;
  /** Sessions started at or after this ISO time (UTC, as the gateway writes it). */
  since?: string;
  /** Sessions started at or before this ISO time. */
  until?: string;
  /** Newest first; default 100. */
  limit?: number;
}

/** Encrypts secrets before they reach disk. */
export interface SecretBox {
  seal(plain: string): Promise<string>;
  open(sealed: string): Promise<string>;
}

/** The gateway's persistent state. */
export interface Store {
  /** Which backend this is, for logs: `sqlite` or `postgres`. */
  readonly kind: "sqlite" | "postgres";

  /** The highest migration applied. */
  schemaVersion(): Promise<number>;
  /** Release connections and file handles. */
  close(): Promise<void>;

  /** Add an agent; throws StoreConflictError when the name is taken. */
  createAgent(agent: NewAgent): Promise<Agent>;
  /** The agent of that name, or `undefined`. */
  getAgentByName(name: string): Promise<Agent | undefined>;
  /** The agent of that id, or `undefined`. */
  getAgentById(id: string): Promise<Agent | undefined>;
  /** All agents, ordered by name. */
  listAgents(): Promise<Agent[]>;
  /** Remove an agent and its connections; throws StoreNotFoundError. */
  deleteAgent(name: string): Promise<Agent>;
  /** Record presence; throws StoreNotFoundError. */
  updateAgentPresence(id: string, presence: AgentPresence): Promise<void>;
  /** Set every agent OFFLINE (gateway start: no stream survives a restart). */
  markAllAgentsOffline(): Promise<void>;

  /** The org key, or `undefined`. */
  getOrgKey(): Promise<OrgKey | undefined>;
  /** Store the org key; throws StoreConflictError when one exists. */
  createOrgKey(key: OrgKey): Promise<OrgKey>;
  /** Remove the org key and every agent registered through it; throws StoreNotFoundError. */
  deleteOrgKey(): Promise<OrgKey>;

  /** Add a connection; throws StoreConflictError when the name is taken. */
  createConnection(conn: Connection): Promise<Connection>;
  /**
   * Add or replace the connection of that name for the same agent (embedded
   * agents re-publish at every connect); throws StoreConflictError when the
   * name belongs to another agent.
   */
  upsertConnection(conn: Connection): Promise<Connection>;
  /**
   * Set the groups of connection `name`, whoever published it; its agent's
   * reconnects keep them. Throws StoreNotFoundError.
   */
  updateConnectionGroups(name: string, groups: string[]): Promise<Connection>;
  /** The connection of that name, or `undefined`. */
  getConnectionByName(name: string): Promise<Connection | undefined>;
  /** All connections, ordered by name. */
  listConnections(): Promise<Connection[]>;
  /** Remove a connection; throws StoreNotFoundError. */
  deleteConnection(name: string): Promise<Connection>;

  /** Add a user; throws StoreConflictError when the email is taken. */
  createUser(user: User): Promise<User>;
  /**
   * Add the gateway's first user, atomically even when several callers race:
   * throws StoreConflictError when any user exists (one signup wins, the rest
   * see the conflict).
   */
  createFirstUser(user: User): Promise<User>;
  /** The user with that email (case-insensitive), or `undefined`. */
  getUserByEmail(email: string): Promise<User | undefined>;
  /** The user of that id, or `undefined`. */
  getUserById(id: string): Promise<User | undefined>;
  /** All users, ordered by email. */
  listUsers(): Promise<User[]>;
  /** How many users exist (signup is open only at 0). */
  countUsers(): Promise<number>;
  /** Remove a user and their tokens; throws StoreNotFoundError. */
  deleteUser(email: string): Promise<User>;
  /**
   * Create a user signed in through single sign-on, recording the directory
   * identity they came from; StoreConflictError when the email or identity
   * is taken.
   */
  createDirectoryUser(user: User, identity: DirectoryIdentityKey): Promise<User>;
  /** The user created from this directory identity, if any. */
  getUserByIdentity(identity: DirectoryIdentityKey): Promise<User | undefined>;
  /** Record the provider's refresh token behind a hoop token (sealed at rest). */
  putSsoGrant(grant: SsoGrant): Promise<void>;
  /**
   * Grants last checked at or before `checkedBefore` whose hoop token is
   * still live at `now`, oldest check first, at most `limit`.
   */
  listSsoGrantsDue(checkedBefore: string, now: string, limit: number): Promise<SsoGrant[]>;
  /** Forget the grants of tokens revoked or expired by `now`; returns how many. */
  pruneSsoGrants(now: string): Promise<number>;
  /** Set a user's role and groups (a directory login); throws StoreNotFoundError. */
  updateUserAccess(id: string, access: { role: Role; groups: string[] }): Promise<User>;

  /** Add a token. */
  createToken(token: Token): Promise<Token>;
  /** The token with that hash, or `undefined` (expired and revoked ones too). */
  getTokenByHash(tokenHash: string): Promise<Token | undefined>;
  /** Mark a token revoked; throws StoreNotFoundError. */
  revokeToken(id: string, revokedAt: string): Promise<void>;

  /** Add a session with status `open`. */
  createSession(session: NewSession): Promise<Session>;
  /** Close a session; throws StoreNotFoundError. */
  finishSession(id: string, end: SessionEnd): Promise<Session>;
  /**
   * Save an open session's byte counts and truncation flag as it runs, so a
   * gateway that dies leaves the bytes seen so far; a closed or unknown
   * session is left as it is (no error).
   */
  recordSessionProgress(id: string, progress: SessionProgress): Promise<void>;
  /** The session of that id, or `undefined`. */
  getSession(id: string): Promise<Session | undefined>;
  /** Sessions, newest first. */
  listSessions(filter?: SessionFilter): Promise<Session[]>;
  /** Append events durably (one transaction); throws StoreNotFoundError for an unknown session. */
  appendSessionEvents(sessionId: string, events: SessionEvent[]): Promise<void>;
  /** A session's events in `seq` order (empty when none or unknown). */
  listSessionEvents(sessionId: string): Promise<SessionEvent[]>;
  /**
   * Close every session still `open` with status `error` and the given reason
   * (gateway start after a crash); returns how many.
   */
  closeDanglingSessions(endedAt: string, reason: string): Promise<number>;
}

/** A thing that `get`/`delete`/`update` named does not exist. */
export class StoreNotFoundError extends Error {
  constructor(what: string, name: string) {
    super(`${what} "${name}" does not exist`);
    this.name = "StoreNotFoundError";
  }
}

/** A thing with that name exists already (or `state` says what else is in the way). */
export class StoreConflictError extends Error {
  constructor(what: string, name: string, state = "already exists") {
    super(`${what} "${name}" ${state}`);
    this.name = "StoreConflictError";
  }
}

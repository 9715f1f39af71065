/**
 * The JSON shapes of the gateway's HTTP API (docs/API.md), declared once: the
 * gateway's views (`gateway/api/`) return them and the CLI (`cli/api_client.ts`
 * and its commands) reads them, so renaming a field fails `deno check` on both
 * sides instead of breaking the CLI at run time.
 *
 * Keys are snake_case and public: fields are only ever added, never renamed or
 * retyped. Values the gateway does not know yet are `null`, never absent.
 *
 * @module
 */

import type { DsnMode } from "./dsn.ts";
import type { ErrorCode } from "./errors.ts";

/** How an agent runs (its DSN's mode): `hoop start agent`, or `hoop run` on the org key. */
export type AgentMode = DsnMode;

/** Whether an agent's control stream is up right now. */
export type AgentStatus = "ONLINE" | "OFFLINE";

/** An agent, as `GET /api/agents` lists it. */
export interface Agent {
  id: string;
  name: string;
  mode: AgentMode;
  status: AgentStatus;
  /** Reported by the agent when it connects; `null` until it first did. */
  version: string | null;
  hostname: string | null;
  platform: string | null;
  created_at: string;
  connected_at: string | null;
  seen_at: string | null;
}

/** The body of `POST /api/agents`. */
export interface CreateAgentRequest {
  name: string;
  /** Default `standard`. */
  mode?: AgentMode;
}

/** The answer of `POST /api/agents`: the DSN is shown this once and never stored. */
export interface CreateAgentResponse {
  agent: Agent;
  dsn: string;
}

/** The answer of `DELETE /api/agents/{name}`. */
export interface AgentResponse {
  agent: Agent;
}

/** The organization key (`GET`/`POST /api/orgkeys`). */
export interface OrgKey {
  id: string;
  dsn: string;
  created_at: string;
}

/** The answer of `DELETE /api/orgkeys`. */
export interface DeleteOrgKeyResponse {
  id: string;
}

/** What a connection reaches through its agent. */
export type ConnectionType = "postgres" | "mysql" | "tcp" | "command";

/** A connection, as `GET /api/connections` lists it. */
export interface Connection {
  id: string;
  name: string;
  type: ConnectionType;
  /** The agent's name; `null` when the agent record is gone. */
  agent: string | null;
  /** The agent's status. */
  status: AgentStatus;
  groups: string[];
  /** Type-specific settings with passwords and secrets shown as `***`. */
  config: Record<string, string>;
  created_at: string;
}

/** The body of `POST /api/connections`. */
export interface CreateConnectionRequest {
  name: string;
  agent: string;
  type: ConnectionType;
  /** postgres and mysql `{uri}`, tcp `{host, port}`, command `{command}`. */
  config: Record<string, string | number>;
  /** A list of group names, or one comma-separated string. */
  groups?: string[] | string;
}

/** The body of `PATCH /api/connections/{name}`: what to change. */
export interface UpdateConnectionRequest {
  /** The new groups (replacing the old): a list, or one comma-separated string. */
  groups: string[] | string;
}

/** The answer of `GET`/`POST`/`PATCH`/`DELETE /api/connections/...`. */
export interface ConnectionResponse {
  connection: Connection;
}

/** Account roles. */
export type Role = "admin" | "user";

/** A user account. */
export interface User {
  id: string;
  email: string;
  role: Role;
  groups: string[];
  created_at: string;
}

/** The answer of `POST /api/signup`, `GET /api/me` and `DELETE /api/users/{email}`. */
export interface UserResponse {
  user: User;
}

/** The body of `POST /api/users`. */
export interface CreateUserRequest {
  email: string;
  /** Default `user`. */
  role?: Role;
  /** A list of group names, or one comma-separated string. */
  groups?: string[] | string;
  /** Generated (and answered once) when absent. */
  password?: string;
}

/** The answer of `POST /api/users`. */
export interface CreateUserResponse {
  user: User;
  /** Present only when the gateway generated the password. */
  password?: string;
}

/** The body of `POST /api/signup` and `POST /api/login`. */
export interface Credentials {
  email: string;
  password: string;
}

/** The answer of `POST /api/login`. */
export interface LoginResponse {
  token: string;
  expires_at: string;
  user: User;
}

/**
 * The answer of `POST /api/web/login` and `GET /api/web/session`: the token
 * itself travels only in the HttpOnly `hoop_session` cookie.
 */
export interface WebSessionResponse {
  user: User;
  /** Send as `X-Hoop-CSRF` on every cookie request other than GET. */
  csrf_token: string;
  expires_at: string;
}

/** The body of `POST /api/connections/{name}/run`. */
export interface RunRequest {
  /** SQL for a postgres connection, the standard input for a command connection. */
  input: string;
}

/** A result column of a run: its name and PostgreSQL type OID. */
export interface RunColumn {
  name: string;
  type_oid: number;
}

/** The result of one statement of a postgres run. */
export interface RunResultSet {
  /** The command tag (`SELECT 1`, `INSERT 0 1`...). */
  command: string;
  columns: RunColumn[];
  /** Rows as text; `null` is SQL NULL. */
  rows: (string | null)[][];
}

/** The answer of a run on a postgres connection. */
export interface RunPostgresResponse {
  session_id: string;
  type: "postgres";
  /** The statements that completed, in order (those before an error included). */
  results: RunResultSet[];
  /** The SQL error (`code` is the SQLSTATE), or why the run was cut. */
  error?: { message: string; code?: string; position?: number };
  /** True when the results passed `MAX_RUN_OUTPUT_BYTES` and the session was cut. */
  truncated: boolean;
}

/** The answer of a run on a command connection. */
export interface RunCommandResponse {
  session_id: string;
  type: "command";
  stdout: string;
  stderr: string;
  /** `null` when the session was cut before the command exited (see `error`). */
  exit_code: number | null;
  /** True when the output passed `MAX_RUN_OUTPUT_BYTES` and the session was cut. */
  truncated: boolean;
  /** Why the session ended without (or besides) the command's own exit. */
  error?: string;
}

/** The answer of `POST /api/connections/{name}/run`. */
export type RunResponse = RunPostgresResponse | RunCommandResponse;

/**
 * A text message the gateway sends on a terminal WebSocket
 * (`GET /api/connections/{name}/terminal`): the session's id first, then at
 * the end the exit code, or an error when it could not start or was cut.
 */
export type TerminalServerMessage =
  | { type: "session"; session_id: string }
  | { type: "exit"; code: number }
  | { type: "error"; message: string };

/** A text message the browser sends on a terminal WebSocket. */
export interface TerminalResizeMessage {
  type: "resize";
  cols: number;
  rows: number;
}

/**
 * The Server-Sent Events of `GET /api/events`, by event name, with the JSON
 * their `data` carries: `connections` for every user, `agents` and
 * `sessions` (open ones, newest first) for admins only.
 */
export interface ConsoleEvents {
  connections: Connection[];
  agents: Agent[];
  sessions: Session[];
}

/** What a session does: relay a connection, run one command, or drive a console. */
export type SessionVerb = "connect" | "exec" | "console";

/** A session's state. */
export type SessionStatus = "open" | "done" | "error";

/** One audited session (one `connect`, `exec` or console). */
export interface Session {
  id: string;
  user: string;
  connection: string;
  type: ConnectionType;
  agent: string;
  verb: SessionVerb;
  status: SessionStatus;
  exit_code: number | null;
  /** Client to resource bytes. */
  bytes_in: number;
  /** Resource to client bytes. */
  bytes_out: number;
  /** True when the recording passed the audit cap and was cut. */
  truncated: boolean;
  error: string | null;
  started_at: string;
  ended_at: string | null;
}

/** Recorded event kinds: input, output, stderr, resize, SQL statement, note. */
export type SessionEventKind = "i" | "o" | "e" | "r" | "sql" | "info";

/** One recorded event of a session: `data` when it is UTF-8 text, `data_b64` otherwise. */
export interface SessionEvent {
  seq: number;
  /** ISO 8601 UTC time as the gateway sends it; readers also take epoch milliseconds. */
  time: string | number;
  /** A {@linkcode SessionEventKind} today; readers skip kinds added later. */
  kind: SessionEventKind | string;
  data?: string;
  data_b64?: string;
}

/** The answer of `GET /api/sessions/{id}`. */
export interface SessionDetails {
  session: Session;
  events: SessionEvent[];
}

/** The body of `POST /api/sessions`. */
export interface CreateSessionRequest {
  connection: string;
  /** Default `connect`. */
  verb?: SessionVerb;
  /** Terminal size of a console. */
  cols?: number;
  rows?: number;
}

/** The answer of `POST /api/sessions`: where to present the one-use data ticket. */
export interface CreateSessionResponse {
  session_id: string;
  ticket: string;
  data_addr: string;
  data_tls: boolean;
  type: ConnectionType;
  /**
   * Key under which this user may park warm data connections (a spare that
   * `hoop connect` dials ahead); it opens no session by itself.
   */
  warm_key?: string;
}

/** The answer of `GET /api/healthz`. */
export interface Health {
  /** `ok` (200), or `unavailable` (503) while the store cannot be written. */
  status: "ok" | "unavailable";
  version: string;
  /** Why the gateway is unavailable, as a sentence (absent when ok). */
  reason?: string;
  /** The audit path while the store is down: records go to the local spool. */
  audit?: { state: "spooling" | "full"; since: string; spooled_bytes: number };
}

/** The body of every non-2xx answer. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    hint?: string;
  };
}

/** The answer of `GET /api/auth/methods`. */
export interface AuthMethods {
  methods: ("password" | "oidc")[];
  /** Present when single sign-on is on: where the web console's button goes. */
  oidc?: { web_login_url: string };
}

/** The answer of `POST /api/oidc/cli/start`: where to send the browser. */
export interface OidcCliStart {
  authorize_url: string;
}

/** The answer of `POST /api/oidc/device/start` (`hoop login --no-browser`). */
export interface OidcDeviceStart {
  login_id: string;
  /** Only the poller knows it: the user code alone cannot collect the token. */
  secret: string;
  user_code: string;
  verification_url: string;
  interval_s: number;
  expires_at: string;
}

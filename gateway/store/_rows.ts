/**
 * Row ↔ domain mapping of `SqlStore`, the same for both drivers.
 * Rows use the column names of the migrations; backend differences (0/1 vs
 * boolean, BIGINT as string, Buffer vs Uint8Array) are normalized here.
 *
 * @module
 */

import type { Row } from "./sql_driver.ts";
import type {
  Agent,
  AgentMode,
  AgentStatus,
  Connection,
  ConnectionType,
  OrgKey,
  Role,
  SecretBox,
  Session,
  SessionEvent,
  SessionEventKind,
  SessionStatus,
  SessionVerb,
  Token,
  User,
} from "./store.ts";

function str(v: unknown): string {
  return String(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function bool(v: unknown): boolean {
  return v === true || v === 1 || v === 1n;
}

/** Map an `agents` row. */
export function agentFromRow(r: Row): Agent {
  return {
    id: str(r.id),
    name: str(r.name),
    mode: str(r.mode) as AgentMode,
    keyHash: strOrNull(r.key_hash),
    viaOrgKey: bool(r.via_org_key),
    status: str(r.status) as AgentStatus,
    version: strOrNull(r.version),
    hostname: strOrNull(r.hostname),
    platform: strOrNull(r.platform),
    createdAt: str(r.created_at),
    connectedAt: strOrNull(r.connected_at),
    seenAt: strOrNull(r.seen_at),
  };
}

/** Map the `org_keys` row, opening its sealed key. */
export async function orgKeyFromRow(r: Row, box: SecretBox): Promise<OrgKey> {
  return {
    id: str(r.id),
    key: await box.open(str(r.key_sealed)),
    keyHash: str(r.key_hash),
    createdAt: str(r.created_at),
  };
}

/** Map a `connections` row, opening its sealed config. */
export async function connectionFromRow(r: Row, box: SecretBox): Promise<Connection> {
  return {
    id: str(r.id),
    name: str(r.name),
    type: str(r.type) as ConnectionType,
    agentId: str(r.agent_id),
    config: JSON.parse(await box.open(str(r.config_sealed))),
    groups: JSON.parse(str(r.groups)),
    createdAt: str(r.created_at),
  };
}

/** Map a `users` row. */
export function userFromRow(r: Row): User {
  return {
    id: str(r.id),
    email: str(r.email),
    role: str(r.role) as Role,
    groups: JSON.parse(str(r.groups)),
    passwordHash: str(r.password_hash),
    createdAt: str(r.created_at),
  };
}

/** Map a `tokens` row. */
export function tokenFromRow(r: Row): Token {
  return {
    id: str(r.id),
    userId: str(r.user_id),
    tokenHash: str(r.token_hash),
    createdAt: str(r.created_at),
    expiresAt: str(r.expires_at),
    revokedAt: strOrNull(r.revoked_at),
  };
}

/** Map a `sessions` row. */
export function sessionFromRow(r: Row): Session {
  return {
    id: str(r.id),
    userId: str(r.user_id),
    userEmail: str(r.user_email),
    connectionName: str(r.connection_name),
    connectionType: str(r.connection_type) as ConnectionType,
    agentName: str(r.agent_name),
    verb: str(r.verb) as SessionVerb,
    status: str(r.status) as SessionStatus,
    exitCode: numOrNull(r.exit_code),
    bytesIn: Number(r.bytes_in),
    bytesOut: Number(r.bytes_out),
    truncated: bool(r.truncated),
    error: strOrNull(r.error),
    startedAt: str(r.started_at),
    endedAt: strOrNull(r.ended_at),
  };
}

/** Map a `session_events` row; data becomes a plain Uint8Array (not a Buffer). */
export function eventFromRow(r: Row): SessionEvent {
  const d = r.data as Uint8Array;
  return {
    seq: Number(r.seq),
    time: str(r.time),
    kind: str(r.kind) as SessionEventKind,
    data: new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)),
  };
}

/** Default and ceiling of {@linkcode Store.listSessions}'s limit. */
export const DEFAULT_SESSION_LIMIT = 100;
/** A larger limit is cut to this, so one call cannot load the whole audit log. */
export const MAX_SESSION_LIMIT = 10_000;

/** The effective limit of a session listing. */
export function sessionLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit) || limit <= 0) return DEFAULT_SESSION_LIMIT;
  return Math.min(Math.floor(limit), MAX_SESSION_LIMIT);
}

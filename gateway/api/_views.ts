/**
 * Store records as the API shows them: the wire types of `proto/api_types.ts`,
 * with presence filled in and secrets in connection configs masked. Every
 * view has an explicit wire return type, so the gateway and the CLI cannot
 * drift apart silently.
 *
 * @module
 */
import type * as wire from "../../proto/api_types.ts";
import { encodeBase64 } from "../../proto/base64.ts";
import { redactConfig } from "../../proto/redact.ts";
import type { Agent, Connection, Session, SessionEvent, User } from "../store/store.ts";
import type { ApiContext } from "./_context.ts";

/** An agent with its live status. */
export function agentView(ctx: ApiContext, a: Agent): wire.Agent {
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

/** A user, without the password hash. */
export function userView(u: User): wire.User {
  return { id: u.id, email: u.email, role: u.role, groups: u.groups, created_at: u.createdAt };
}

/**
 * A connection with its agent's name and status; `agents` saves one store
 * lookup per connection when listing.
 */
export async function connectionView(
  ctx: ApiContext,
  c: Connection,
  agents?: Map<string, Agent>,
): Promise<wire.Connection> {
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

/** A session's audit record. */
export function sessionView(s: Session): wire.Session {
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

/** A recorded event: `data` when it is valid UTF-8, `data_b64` otherwise. */
export function eventView(e: SessionEvent): wire.SessionEvent {
  try {
    return { seq: e.seq, time: e.time, kind: e.kind, data: strictUtf8.decode(e.data) };
  } catch {
    return { seq: e.seq, time: e.time, kind: e.kind, data_b64: encodeBase64(e.data) };
  }
}

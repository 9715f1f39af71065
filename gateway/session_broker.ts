/**
 * Session set-up and relay: the broker issues one-time tickets, asks the agent
 * to open its side, pairs the client's and the agent's data connections when
 * both arrive, relays the bytes, and closes the audit record.
 *
 * Lifecycle of a session: `open()` (record `open`, two tickets, SESSION_OPEN to
 * the agent) → both sides `attach()` with their tickets within
 * {@linkcode SESSION_PAIR_TIMEOUT_MS} → relay → record `done` or `error`. A
 * SESSION_FAILED from the agent, a revocation, a deleted user or the pairing
 * deadline ends it early with the reason shown to the client.
 *
 * The map of sessions lives here, behind this class, so that a scale-out
 * version can route an agent's data connection to the replica that holds the
 * client.
 *
 * @module
 */
import { closeQuietly, writeAll } from "../proto/bytes.ts";
import { DataSide, writeStatus } from "../proto/data_header.ts";
import { FrameReader, FrameType, parseExit, parseResize, writeFrame } from "../proto/frames.ts";
import { encodeBase64Url } from "../proto/base64.ts";
import { generateTicket } from "../proto/keys.ts";
import type { Logger } from "../proto/log.ts";
import { makePacket, PacketType } from "../proto/packet.ts";
import { StatementTap } from "../proto/pgwire.ts";
import { splice } from "../proto/splice.ts";
import type { PresenceRegistry } from "./presence.ts";
import { SessionRecorder } from "./recorder.ts";
import type { Agent, Connection, SessionVerb, Store, User } from "./store/store.ts";
import { unavailable } from "../proto/errors.ts";

/** How long a ticket may wait before its data connection arrives. */
export const TICKET_TTL_MS = 10_000;

/** How long a session may wait for both sides. */
export const SESSION_PAIR_TIMEOUT_MS = 15_000;

/** Data-header refusal codes (see proto/data_header.ts). */
const REFUSED_TICKET = 2;
const REFUSED_PEER = 3;

/** What `open()` needs. */
export interface OpenSessionRequest {
  user: User;
  connection: Connection;
  agent: Agent;
  verb: SessionVerb;
  cols?: number;
  rows?: number;
  /**
   * A client already connected to the gateway itself (the PostgreSQL
   * listener) instead of one that dials the data port with a ticket.
   */
  local?: LocalClient;
}

/** A client socket the gateway accepted itself (no data header, no status byte). */
export interface LocalClient {
  conn: Deno.Conn;
  /** Bytes sent to the agent before the relay starts, as if the client sent them. */
  prelude?: Uint8Array;
  /** Tell the client, in its own protocol, why the session cannot start. */
  refuse(message: string): Promise<void>;
}

/** What the client needs to dial the data port. */
export interface OpenedSession {
  sessionId: string;
  /** The client's one-time ticket, base64url. */
  ticket: string;
}

interface TicketEntry {
  sid: string;
  side: number;
  expiresAt: number;
}

interface LiveSession {
  id: string;
  agentId: string;
  userId: string;
  type: Connection["type"];
  verb: SessionVerb;
  recorder: SessionRecorder;
  client?: Deno.Conn;
  agent?: Deno.Conn;
  local?: LocalClient;
  state: "pending" | "active" | "done";
  /** Set when the session is ended for a reason the client should read. */
  endReason?: string;
  /** True once an active relay was cut (revocation, deleted user, shutdown). */
  cut?: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/** Options of {@linkcode SessionBroker}. */
export interface SessionBrokerOptions {
  store: Store;
  presence: PresenceRegistry;
  log: Logger;
  auditMaxBytes?: number;
}

/** Pairs data connections into audited sessions. */
export class SessionBroker {
  #store: Store;
  #presence: PresenceRegistry;
  #log: Logger;
  #auditMaxBytes?: number;
  #tickets = new Map<string, TicketEntry>();
  #sessions = new Map<string, LiveSession>();
  /**
   * Why recently failed sessions ended, kept for a ticket's lifetime: the
   * agent often fails (resource unreachable) before the client has dialed,
   * and the client must still read the reason.
   */
  #endedReasons = new Map<string, string>();

  constructor(opts: SessionBrokerOptions) {
    this.#store = opts.store;
    this.#presence = opts.presence;
    this.#log = opts.log;
    this.#auditMaxBytes = opts.auditMaxBytes;
  }

  /** Sessions not yet finished (for tests and shutdown). */
  get liveCount(): number {
    return this.#sessions.size;
  }

  /** Record a new session and ask the agent to open its side. */
  async open(req: OpenSessionRequest): Promise<OpenedSession> {
    const link = this.#presence.get(req.agent.id);
    if (!link) {
      throw unavailable(
        `Cannot open a session on connection "${req.connection.name}": agent "${req.agent.name}" is offline`,
      );
    }
    const id = crypto.randomUUID();
    await this.#store.createSession({
      id,
      userId: req.user.id,
      userEmail: req.user.email,
      connectionName: req.connection.name,
      connectionType: req.connection.type,
      agentName: req.agent.name,
      verb: req.verb,
      startedAt: new Date().toISOString(),
    });
    const session: LiveSession = {
      id,
      agentId: req.agent.id,
      userId: req.user.id,
      type: req.connection.type,
      verb: req.verb,
      recorder: new SessionRecorder(this.#store, id, {
        log: this.#log.with({ sid: id }),
        maxBytes: this.#auditMaxBytes,
      }),
      state: "pending",
      local: req.local,
      client: req.local?.conn,
    };
    this.#sessions.set(id, session);
    // The console's first size, so its asciicast header matches the user's terminal.
    if (req.verb === "console" && req.cols && req.rows) {
      session.recorder.record("r", `${req.cols}x${req.rows}`);
    }
    session.timer = setTimeout(
      () => this.#fail(session, "the agent did not open the session in time"),
      SESSION_PAIR_TIMEOUT_MS,
    );
    const clientTicket = req.local ? "" : this.#issueTicket(id, DataSide.CLIENT);
    const agentTicket = this.#issueTicket(id, DataSide.AGENT);
    const sent = link.send(makePacket(PacketType.SESSION_OPEN, {
      sid: id,
      ticket: agentTicket,
      connection: req.connection.name,
      type: req.connection.type,
      verb: req.verb,
      cols: req.cols?.toString(),
      rows: req.rows?.toString(),
    }, agentConfig(req.agent, req.connection)));
    if (!sent) {
      this.#fail(session, `agent "${req.agent.name}" went offline`);
      throw unavailable(
        `Cannot open a session on connection "${req.connection.name}": agent "${req.agent.name}" is offline`,
      );
    }
    this.#log.info("session opened", {
      sid: id,
      user: req.user.email,
      conn: req.connection.name,
      agent: req.agent.name,
      verb: req.verb,
    });
    return { sessionId: id, ticket: clientTicket };
  }

  #issueTicket(sid: string, side: number): string {
    const ticket = encodeBase64Url(generateTicket());
    this.#tickets.set(ticket, { sid, side, expiresAt: Date.now() + TICKET_TTL_MS });
    // Expired tickets are also dropped on use; this bounds the map for unused ones.
    setTimeout(() => this.#tickets.delete(ticket), TICKET_TTL_MS + 1000);
    return ticket;
  }

  /** A data connection presented `ticket` for `side`: pair it or refuse it. */
  async attach(conn: Deno.Conn, side: number, ticket: Uint8Array): Promise<void> {
    const key = encodeBase64Url(ticket);
    const entry = this.#tickets.get(key);
    this.#tickets.delete(key);
    if (!entry || entry.side !== side || entry.expiresAt < Date.now()) {
      await refuse(conn, REFUSED_TICKET, "unknown or expired ticket");
      return;
    }
    const session = this.#sessions.get(entry.sid);
    if (!session || session.state !== "pending") {
      const reason = session?.endReason ?? this.#endedReasons.get(entry.sid) ??
        "the session has ended";
      await refuse(conn, REFUSED_PEER, reason);
      return;
    }
    if (side === DataSide.CLIENT) session.client = conn;
    else session.agent = conn;
    if (session.client && session.agent) await this.#activate(session);
  }

  /** The agent could not open its side (resource unreachable, bad config). */
  agentFailed(agentId: string, sid: string, message: string): void {
    const session = this.#sessions.get(sid);
    if (!session || session.agentId !== agentId) return;
    if (session.state === "active") {
      // The agent already told the client in-band (a PostgreSQL ErrorResponse, an
      // ERROR frame) and is closing its side: let the relay deliver that, and
      // only note the reason for the record.
      session.endReason ??= message;
      return;
    }
    this.#fail(session, message);
  }

  /** End every session through an agent (revoked, or its stream died). */
  endAgentSessions(agentId: string, reason: string): void {
    for (const s of this.#sessions.values()) if (s.agentId === agentId) this.#fail(s, reason);
  }

  /** End every session of a user (deleted). */
  endUserSessions(userId: string, reason: string): void {
    for (const s of this.#sessions.values()) if (s.userId === userId) this.#fail(s, reason);
  }

  /** End everything (gateway shutdown) and wait for the records. */
  async close(reason: string): Promise<void> {
    const all = [...this.#sessions.values()];
    for (const s of all) this.#fail(s, reason);
    await Promise.all(all.map((s) => s.recorder.flush()));
  }

  /** End a session with a reason: refuse a waiting client, or cut a live relay. */
  #fail(session: LiveSession, reason: string): void {
    if (session.state === "done") return;
    if (session.state === "active") {
      // Closing both sockets ends the relay, which records the reason.
      session.endReason ??= reason;
      if (session.cut) return;
      session.cut = true;
      closeQuietly(session.client);
      closeQuietly(session.agent);
      return;
    }
    if (session.endReason) return;
    session.endReason = reason;
    clearTimeout(session.timer);
    session.state = "done";
    this.#sessions.delete(session.id);
    const client = session.client;
    const agent = session.agent;
    void (async () => {
      await session.recorder.finish({ status: "error", exitCode: null, error: reason });
      if (session.local) {
        await session.local.refuse(reason).catch(() => {});
        closeQuietly(session.local.conn);
      } else if (client) await refuse(client, REFUSED_PEER, reason);
      if (agent) await refuse(agent, REFUSED_PEER, reason);
    })();
    // A client that has not connected yet reads the reason when it does.
    this.#endedReasons.set(session.id, reason);
    setTimeout(() => this.#endedReasons.delete(session.id), TICKET_TTL_MS);
    this.#log.info("session failed", { sid: session.id, reason });
  }

  async #activate(session: LiveSession): Promise<void> {
    clearTimeout(session.timer);
    session.state = "active";
    const client = session.client!;
    const agent = session.agent!;
    try {
      await Promise.all([
        session.local ? undefined : writeStatus(client, 0),
        writeStatus(agent, 0),
      ]);
      if (session.local?.prelude) await writeAll(agent, session.local.prelude);
    } catch (err) {
      session.endReason ??= "a data connection closed during set-up";
      this.#log.warn("data connection lost during set-up", { sid: session.id, err });
    }
    let exitCode: number | null = null;
    try {
      if (!session.endReason) {
        if (session.type === "command") exitCode = await this.#relayFrames(session, client, agent);
        else await this.#relayBytes(session, client, agent);
      }
    } catch (err) {
      session.endReason ??= err instanceof Error ? err.message : String(err);
    } finally {
      closeQuietly(client);
      closeQuietly(agent);
      session.state = "done";
      this.#sessions.delete(session.id);
      await session.recorder.finish({
        status: session.endReason ? "error" : "done",
        exitCode,
        error: session.endReason ?? null,
      });
      this.#log.info("session closed", {
        sid: session.id,
        status: session.endReason ? "error" : "done",
        reason: session.endReason,
        bytes_in: session.recorder.bytesIn,
        bytes_out: session.recorder.bytesOut,
      });
    }
  }

  /** TCP-type sessions: raw splice; PostgreSQL statements are tapped on the way. */
  async #relayBytes(session: LiveSession, client: Deno.Conn, agent: Deno.Conn): Promise<void> {
    const rec = session.recorder;
    const tap = session.type === "postgres"
      ? new StatementTap((st) => {
        const params = st.params?.length ? `\n-- params: ${JSON.stringify(st.params)}` : "";
        rec.record("sql", st.sql + params);
      })
      : undefined;
    if (session.local?.prelude) {
      rec.bytesIn += session.local.prelude.length;
      tap?.push(session.local.prelude);
    }
    const result = await splice(client, agent, {
      observer: {
        onData(direction, chunk) {
          if (direction === "a2b") {
            rec.bytesIn += chunk.length;
            // Once the recording is full, parsing statements is wasted work on the hot path.
            if (!rec.truncated) tap?.push(chunk);
          } else rec.bytesOut += chunk.length;
        },
      },
    });
    rec.bytesIn = result.a2b + (session.local?.prelude?.length ?? 0);
    rec.bytesOut = result.b2a;
  }

  /**
   * Exec and console sessions: frames are relayed one by one so the EXIT frame
   * can be held until the record is durable ("durable before reported closed").
   */
  async #relayFrames(
    session: LiveSession,
    client: Deno.Conn,
    agent: Deno.Conn,
  ): Promise<number | null> {
    const rec = session.recorder;
    let exitCode: number | null = null;
    const upstream = (async () => {
      const reader = new FrameReader(client);
      for (;;) {
        const f = await reader.next();
        if (!f) break;
        if (f.type === FrameType.STDIN) {
          rec.bytesIn += f.payload.length;
          rec.record("i", f.payload);
        } else if (f.type === FrameType.RESIZE) {
          const { cols, rows } = parseResize(f.payload);
          rec.record("r", `${cols}x${rows}`);
        }
        await writeFrame(agent, f.type, f.payload);
      }
      await agent.closeWrite().catch(() => {});
    })();
    const downstream = (async () => {
      const reader = new FrameReader(agent);
      for (;;) {
        const f = await reader.next();
        if (!f) break;
        if (f.type === FrameType.STDOUT) {
          rec.bytesOut += f.payload.length;
          rec.record("o", f.payload);
        } else if (f.type === FrameType.STDERR) {
          rec.bytesOut += f.payload.length;
          rec.record("e", f.payload);
        } else if (f.type === FrameType.ERROR) {
          session.endReason ??= new TextDecoder().decode(f.payload);
        } else if (f.type === FrameType.EXIT) {
          exitCode = parseExit(f.payload);
          await rec.finish({
            status: session.endReason ? "error" : "done",
            exitCode,
            error: session.endReason ?? null,
          });
          await writeFrame(client, f.type, f.payload);
          break;
        }
        await writeFrame(client, f.type, f.payload);
      }
    })();
    try {
      await downstream;
    } finally {
      closeQuietly(client);
      closeQuietly(agent);
      await upstream.catch(() => {});
    }
    return exitCode;
  }
}

/**
 * The config the agent needs: standard agents learn the resource (and its
 * secrets) from the gateway; embedded agents serve their own and get nothing.
 */
function agentConfig(agent: Agent, conn: Connection): Record<string, string> | undefined {
  return agent.mode === "standard" && !agent.viaOrgKey ? conn.config : undefined;
}

async function refuse(conn: Deno.Conn, code: number, message: string): Promise<void> {
  try {
    await writeStatus(conn, code, message);
  } catch {
    // The peer is gone; nothing to tell.
  }
  closeQuietly(conn);
}

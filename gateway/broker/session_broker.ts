/**
 * Session set-up and relay: the broker issues one-time tickets
 * ({@linkcode TicketBook}), asks the agent to open its side, pairs the
 * client's and the agent's data connections when both arrive, relays the
 * bytes ({@linkcode relayBytes}, {@linkcode relayFrames}), and closes the
 * audit record.
 *
 * Lifecycle of a session (see live_session.ts): `open()` (record `open`, two
 * tickets, SESSION_OPEN to the agent) → both sides `attach()` with their
 * tickets within {@linkcode SESSION_PAIR_TIMEOUT_MS} → relay → record `done`
 * or `error`. Once registered, the session's access is checked again against
 * the store (a change may have landed since the caller's check). A SESSION_FAILED from the agent, a revocation, a deleted user or
 * the pairing deadline ends it early with the reason shown to the client.
 *
 * The map of sessions lives here, behind this class, so that a scale-out
 * version can route an agent's data connection to the replica that holds the
 * client.
 *
 * @module
 */
import { closeQuietly, writeAll } from "../../proto/bytes.ts";
import { DataSide, DataStatus, writeStatus } from "../../proto/data_header.ts";
import { permissionDenied, resourceExhausted, unavailable } from "../../proto/errors.ts";
import type { Logger } from "../../proto/log.ts";
import { makePacket, PacketType } from "../../proto/packet.ts";
import type { PresenceRegistry } from "../presence.ts";
import type { AuditWriter } from "../audit/audit_writer.ts";
import { SessionRecorder } from "../audit/mod.ts";
import type { Agent, Connection, SessionVerb, Store, Token, User } from "../store/store.ts";
import { accessStillHeld } from "../withdrawn_access.ts";
import {
  type LiveSession,
  type LocalClient,
  type OpenSessionView,
  reasonOf,
} from "./live_session.ts";
import { relayBytes } from "./relay_bytes.ts";
import { relayFrames } from "./relay_frames.ts";
import { TICKET_TTL_MS, TicketBook } from "./ticket_book.ts";

/**
 * Sessions one user may have opened but not yet paired (each makes the agent
 * dial its resource). Past it, `open()` refuses with `resource_exhausted`.
 */
export const MAX_PENDING_SESSIONS_PER_USER = 256;

/**
 * When the agent's side of a byte session ends first, how long to wait for
 * news that the agent itself died (its control stream dropping) before the
 * session is recorded as ended normally.
 */
export const AGENT_GONE_GRACE_MS = 500;

/** How long a session may wait for both sides. */
export const SESSION_PAIR_TIMEOUT_MS = 15_000;

/** What `open()` needs. */
export interface OpenSessionRequest {
  user: User;
  connection: Connection;
  agent: Agent;
  verb: SessionVerb;
  cols?: number;
  rows?: number;
  /**
   * The token the session was opened with: revoking it ends the session,
   * and one revoked before the session is registered refuses it.
   */
  token?: Pick<Token, "id" | "tokenHash">;
  /**
   * A client already connected to the gateway itself (the PostgreSQL
   * listener) instead of one that dials the data port with a ticket.
   */
  local?: LocalClient;
}

/** What the client needs to dial the data port. */
export interface OpenedSession {
  sessionId: string;
  /** The client's one-time ticket, base64url. */
  ticket: string;
}

/** Options of {@linkcode SessionBroker}. */
export interface SessionBrokerOptions {
  store: Store;
  presence: PresenceRegistry;
  log: Logger;
  auditMaxBytes?: number;
  /** The durable audit path (store, or spool while it is down); the store itself when absent. */
  audit?: AuditWriter;
}

/** Pairs data connections into audited sessions. */
export class SessionBroker {
  #store: Store;
  #presence: PresenceRegistry;
  #log: Logger;
  #auditMaxBytes?: number;
  #audit?: AuditWriter;
  #tickets = new TicketBook();
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
    this.#audit = opts.audit;
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
    const health = this.#audit?.health;
    if (health && health.state !== "ok") {
      // Relaying what cannot be recorded is what an audit gateway must never do.
      throw unavailable(
        `Cannot open a session on connection "${req.connection.name}": the audit store is unavailable (${health.reason})`,
        { hint: "new sessions are refused until the gateway's store is back; running ones go on" },
      );
    }
    let waiting = 0;
    for (const s of this.#sessions.values()) {
      if (s.userId === req.user.id && s.state === "pending") waiting++;
    }
    if (waiting >= MAX_PENDING_SESSIONS_PER_USER) {
      throw resourceExhausted(
        `Cannot open a session on connection "${req.connection.name}": ${waiting} of your sessions are still waiting for their data connections`,
        {
          hint: `at most ${MAX_PENDING_SESSIONS_PER_USER} may wait at once; each waits at most ${
            SESSION_PAIR_TIMEOUT_MS / 1000
          } s`,
        },
      );
    }
    const id = crypto.randomUUID();
    // The row is written while SESSION_OPEN travels to the agent and the data
    // connections pair (a store write off the set-up); nothing is relayed or
    // recorded before it is there (`recorded`, awaited by attach and #fail).
    const row = this.#store.createSession({
      id,
      userId: req.user.id,
      userEmail: req.user.email,
      connectionName: req.connection.name,
      connectionType: req.connection.type,
      agentName: req.agent.name,
      verb: req.verb,
      startedAt: new Date().toISOString(),
    });
    // Registered from here on, so a later access change's review sees it; a
    // change made since the caller read the user, connection and token did
    // not, hence the check again, off the set-up like the row. Nothing is
    // relayed before it passes (`recorded` waits for it).
    const access = accessStillHeld(this.#store, {
      userId: req.user.id,
      connectionId: req.connection.id,
      connectionName: req.connection.name,
    }, req.token?.tokenHash).catch((err) => `its access could not be checked: ${reasonOf(err)}`);
    const checked = access.then((reason) => {
      if (reason === undefined) return;
      // open() throws the reason, and its caller answers the client with it.
      session.local = undefined;
      session.client = undefined;
      this.#fail(session, reason);
    });
    const session: LiveSession = {
      id,
      agentId: req.agent.id,
      userId: req.user.id,
      tokenId: req.token?.id,
      connectionId: req.connection.id,
      connectionName: req.connection.name,
      type: req.connection.type,
      verb: req.verb,
      recorder: new SessionRecorder(this.#audit ?? this.#store, id, {
        log: this.#log.with({ sid: id }),
        maxBytes: this.#auditMaxBytes,
      }),
      state: "pending",
      recorded: Promise.all([row, checked]).then(() => {
        // The console's first size, so its asciicast header matches the user's terminal.
        if (req.verb === "console" && req.cols && req.rows) {
          session.recorder.record("r", `${req.cols}x${req.rows}`);
        }
        return true;
      }, () => false),
      local: req.local,
      client: req.local?.conn,
    };
    this.#sessions.set(id, session);
    session.timer = setTimeout(
      () => this.#fail(session, "the agent did not open the session in time"),
      SESSION_PAIR_TIMEOUT_MS,
    );
    const clientTicket = req.local ? "" : this.#tickets.issue(id, DataSide.CLIENT);
    const agentTicket = this.#tickets.issue(id, DataSide.AGENT);
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
    await this.#recordedOrDrop(session, row);
    const refused = await access;
    if (refused !== undefined) {
      throw permissionDenied(
        `Cannot open a session on connection "${req.connection.name}": ${refused}`,
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

  /** A data connection presented `ticket` for `side`: pair it or refuse it. */
  async attach(conn: Deno.Conn, side: DataSide, ticket: Uint8Array): Promise<void> {
    const sid = this.#tickets.take(ticket, side);
    if (sid === undefined) {
      await refuse(conn, DataStatus.BAD_TICKET, "unknown or expired ticket");
      return;
    }
    const session = this.#sessions.get(sid);
    if (!session || session.state !== "pending") {
      const reason = session?.endReason ?? this.#endedReasons.get(sid) ??
        "the session has ended";
      await refuse(conn, DataStatus.PEER_FAILED, reason);
      return;
    }
    if (side === DataSide.CLIENT) session.client = conn;
    else session.agent = conn;
    if (!session.client || !session.agent) return;
    // A failed row already ended the session (#recordedOrDrop) and refused both sides.
    if (await session.recorded && session.state === "pending") await this.#activate(session);
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

  /** End every session opened with a token that was just revoked. */
  endTokenSessions(tokenId: string, reason: string): void {
    for (const s of this.#sessions.values()) if (s.tokenId === tokenId) this.#fail(s, reason);
  }

  /** Who holds which connection right now, for a review after an access change. */
  openSessions(): OpenSessionView[] {
    return [...this.#sessions.values()].map((s) => ({
      id: s.id,
      userId: s.userId,
      connectionId: s.connectionId,
      connectionName: s.connectionName,
    }));
  }

  /** End every session (the audit spool is full: nothing more can be recorded). */
  endAllSessions(reason: string): void {
    for (const s of this.#sessions.values()) this.#fail(s, reason);
  }

  /**
   * End one session with `reason` recorded (the gateway's own client side cut
   * it: a web terminal's oversized message, a run's deadline). Unknown or
   * finished sessions are left alone.
   */
  endSession(sessionId: string, reason: string): void {
    const session = this.#sessions.get(sessionId);
    if (session) this.#fail(session, reason);
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

  /** Resolve when `session` is cut, or after `ms`, whichever is first. */
  #cutWithin(session: LiveSession, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      session.onCut = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Wait for `session`'s row. When it cannot be written the session ends
   * unrecorded and the store's error reaches `open()`'s caller, who answers
   * the client with it (so the client is left out of the refusal here).
   */
  async #recordedOrDrop(session: LiveSession, row: Promise<unknown>): Promise<void> {
    try {
      await row;
    } catch (err) {
      session.local = undefined;
      session.client = undefined;
      this.#fail(session, `the session could not be recorded: ${reasonOf(err)}`);
      throw err;
    }
  }

  /** End a session with a reason: refuse a waiting client, or cut a live relay. */
  #fail(session: LiveSession, reason: string): void {
    if (session.state === "done") return;
    if (session.state === "active") {
      // Closing both sockets ends the relay, which records the reason.
      session.endReason ??= reason;
      if (session.cut) return;
      session.cut = true;
      session.onCut?.();
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
      try {
        if (await session.recorded) {
          await session.recorder.finish({ status: "error", exitCode: null, error: reason });
        }
      } catch (err) {
        this.#log.error("session record not closed", { sid: session.id, err });
      }
      if (session.local) {
        await session.local.refuse(reason).catch(() => {});
        closeQuietly(session.local.conn);
      } else if (client) await refuse(client, DataStatus.PEER_FAILED, reason);
      if (agent) await refuse(agent, DataStatus.PEER_FAILED, reason);
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
        if (session.type === "command") exitCode = await relayFrames(session, client, agent);
        else {
          const r = await relayBytes(session, client, agent);
          // The agent's side ended first (or broke): a killed agent looks just like a
          // resource that hung up, until its control stream is seen to drop a moment
          // later. Wait that moment, so a dead agent's session is not recorded done.
          if (!session.endReason && (r.error !== undefined || r.agentEndedFirst)) {
            await this.#cutWithin(session, AGENT_GONE_GRACE_MS);
          }
        }
      }
    } catch (err) {
      session.endReason ??= reasonOf(err);
    } finally {
      closeQuietly(client);
      closeQuietly(agent);
      session.state = "done";
      this.#sessions.delete(session.id);
      try {
        await session.recorder.finish({
          status: session.endReason ? "error" : "done",
          exitCode,
          error: session.endReason ?? null,
        });
      } catch (err) {
        this.#log.error("session record not closed", { sid: session.id, err });
      }
      this.#log.info("session closed", {
        sid: session.id,
        status: session.endReason ? "error" : "done",
        reason: session.endReason,
        bytes_in: session.recorder.bytesIn,
        bytes_out: session.recorder.bytesOut,
      });
    }
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

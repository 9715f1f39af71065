/**
 * The session broker: one-time data tickets, the life of a session from
 * `open()` to its closed record, and the two relays (raw bytes for postgres
 * and tcp, frames for exec and consoles). The gateway's data port, API and
 * PostgreSQL listener hand it sessions and data connections; nothing else
 * touches a session's sockets.
 *
 * @module
 */
export {
  MAX_PENDING_SESSIONS_PER_USER,
  SESSION_PAIR_TIMEOUT_MS,
  SessionBroker,
} from "./session_broker.ts";
export type { OpenedSession, OpenSessionRequest, SessionBrokerOptions } from "./session_broker.ts";
export type { LocalClient, OpenSessionView } from "./live_session.ts";
export { TICKET_TTL_MS } from "./ticket_book.ts";

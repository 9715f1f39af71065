/**
 * The gateway's PostgreSQL pieces: the listener that lets database clients
 * connect straight to the gateway with a hoop login (`listener.ts`, its TLS in
 * `listener_tls.ts` and `listener_startup.ts`, its cancel keys in
 * `cancel_keys.ts` and `backend_hello.ts`), and the statement tap that
 * records what a session runs (`statement_tap.ts`). The
 * wire codec both read is `proto/pgwire/`; the server side is the agent's
 * `agent/postgres/`.
 *
 * @module
 */
export {
  type PostgresListener,
  type PostgresListenerContext,
  startPostgresListener,
} from "./listener.ts";
export {
  MAX_TAP_BIND_BYTES,
  MAX_TAP_PREPARED_BYTES,
  MAX_TAP_SQL_BYTES,
  StatementTap,
  type StatementTapOptions,
  type TappedStatement,
  TRUNCATION_MARKER,
} from "./statement_tap.ts";

/**
 * The agent's PostgreSQL server side: the front end that answers a client's
 * startup and relays it (`front_end.ts`), the transport to the real server
 * per `sslmode` (`transport.ts`), the login with the connection's own
 * credentials (`login.ts`, `scram.ts`) and the cancel path (`cancel.ts`).
 * The wire codec it speaks is `proto/pgwire/`.
 *
 * @module
 */
export { servePostgres, type ServePostgresOptions } from "./front_end.ts";
export { connectPostgres, type ConnectPostgresOptions, md5Password } from "./login.ts";
export { PostgresConnectError } from "./connect_error.ts";

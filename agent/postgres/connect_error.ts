/**
 * The one error of the agent's PostgreSQL login path, carrying the SQLSTATE
 * the client is told, and the wording helpers its messages share.
 *
 * @module
 */
import { HoopError } from "../../proto/errors.ts";
import { formatHostPort } from "../../proto/host_port.ts";
import { describeNetError } from "../../proto/net_error.ts";
import type { PostgresUri } from "../../proto/postgres_uri.ts";

/**
 * A failure to connect or log in to the real server, with the SQLSTATE the
 * client should see. Its message is meant for the user (no secrets).
 */
export class PostgresConnectError extends HoopError {
  readonly sqlstate: string;
  constructor(
    code: "unavailable" | "unauthenticated" | "invalid_argument",
    message: string,
    sqlstate: string,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.name = "PostgresConnectError";
    this.sqlstate = sqlstate;
  }
}

/** The server's `host:port` as messages name it (brackets for IPv6). */
export function serverAddr(cfg: PostgresUri): string {
  return formatHostPort({ hostname: cfg.host, port: cfg.port });
}

/** A short reason for a network error; a reset is the server's doing on this path. */
export function reason(err: unknown): string {
  if (err instanceof Deno.errors.ConnectionReset) return "connection reset by the server";
  return describeNetError(err);
}

/** Why connecting failed: the connection's `connect_timeout` when it ran out, else `err`. */
export function failureReason(err: unknown, cfg: PostgresUri, signal: AbortSignal): string {
  return signal.aborted ? `timed out after ${cfg.connectTimeoutMs / 1000} s` : reason(err);
}

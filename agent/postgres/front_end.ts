/**
 * The agent's PostgreSQL front end: it plays server to the user's client (any
 * user name and password are accepted, the session was authorized by the
 * gateway) and client to the real server, logging in with the credentials of
 * the connection's URI, which never leave the agent. After authentication the
 * two sockets are spliced and the server's own `ParameterStatus`,
 * `BackendKeyData` and `ReadyForQuery` reach the client unchanged, so the
 * client's cancel requests carry the real backend key.
 *
 * @module
 */
import { closeQuietly, setNoDelay, writeAll } from "../../proto/bytes.ts";
import type { Logger } from "../../proto/log.ts";
import {
  encodeErrorResponse,
  encodeNegotiateProtocolVersion,
  negotiateStartup,
  PROTOCOL_3_0,
} from "../../proto/pgwire/mod.ts";
import { parsePostgresUri, type PostgresUri } from "../../proto/postgres_uri.ts";
import { forwardCancel } from "./cancel.ts";
import { PostgresConnectError } from "./connect_error.ts";
import { connectPostgres } from "./login.ts";

/** Options of {@linkcode servePostgres}. */
export interface ServePostgresOptions {
  log: Logger;
  /** Relay bytes both ways until both directions end; owns neither conn. */
  splice: (a: Deno.Conn, b: Deno.Conn) => Promise<unknown>;
  /** Name of the hoop connection, prefixed to errors the client sees (`connection pgdemo: ...`). */
  connectionName?: string;
}

/** Startup parameters a client may not choose: the agent's URI decides them. */
const CLIENT_PARAMS_DROPPED = new Set(["user", "database"]);

/**
 * Serve one PostgreSQL client connection: answer its startup as a server,
 * log in to the real server of `server` (a parsed URI, or its text, parsed
 * once here), then splice. Resolves when the session ends; rejects with a
 * {@linkcode HoopError} (after telling the client with an `ErrorResponse`)
 * when the URI is invalid or the server cannot be reached or refuses the
 * login. Closes `client` in every case.
 */
export async function servePostgres(
  client: Deno.Conn,
  server: PostgresUri | string,
  opts: ServePostgresOptions,
): Promise<void> {
  const prefix = opts.connectionName ? `connection ${opts.connectionName}: ` : "";
  let upstream: Deno.Conn | undefined;
  let spliced = false;
  try {
    setNoDelay(client);
    // The client's hop is already protected by the data connection: encryption is refused.
    const first = await negotiateStartup(client);
    if (!first) return;
    const cfg = typeof server === "string" ? parsePostgresUri(server) : server;
    if (first.packet.kind === "cancel") {
      await forwardCancel(cfg, first.packet, opts.log);
      return;
    }

    const params: Record<string, string> = {};
    const unsupported: string[] = [];
    for (const [k, v] of Object.entries(first.packet.params)) {
      if (k.startsWith("_pq_.")) unsupported.push(k);
      else if (!CLIENT_PARAMS_DROPPED.has(k)) params[k] = v;
    }
    const minor = first.packet.protocol & 0xffff;
    const negotiate = minor > 0 || unsupported.length > 0
      ? encodeNegotiateProtocolVersion(PROTOCOL_3_0 & 0xffff, unsupported)
      : new Uint8Array(0);

    const { conn, hello } = await connectPostgres(cfg, { params, log: opts.log });
    upstream = conn;
    if (negotiate.length > 0) await writeAll(client, negotiate);
    await writeAll(client, hello);
    spliced = true;
    await opts.splice(client, upstream);
  } catch (err) {
    if (!spliced) {
      const sqlstate = err instanceof PostgresConnectError ? err.sqlstate : "08006";
      const message = err instanceof Error ? err.message : String(err);
      try {
        await writeAll(client, encodeErrorResponse("FATAL", sqlstate, prefix + message));
      } catch {
        // The client is gone; the caller still gets the error.
      }
      opts.log.warn("postgres session failed", { error: message });
    }
    throw err;
  } finally {
    closeQuietly(client);
    closeQuietly(upstream);
  }
}

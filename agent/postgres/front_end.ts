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
import { connectPostgres, openEarly } from "./login.ts";

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
 * once here), then splice. `client` may still be on its way (the session's
 * data connection pairing): the server's connection is opened meanwhile.
 * Resolves when the session ends; rejects with a {@linkcode HoopError}
 * (after telling the client with an `ErrorResponse`) when the URI is invalid
 * or the server cannot be reached or refuses the login, and with the
 * client's own failure when it never arrives. Closes `client` in every case.
 */
export async function servePostgres(
  clientConn: Deno.Conn | Promise<Deno.Conn>,
  server: PostgresUri | string,
  opts: ServePostgresOptions,
): Promise<void> {
  const prefix = opts.connectionName ? `connection ${opts.connectionName}: ` : "";
  let cfg: PostgresUri | undefined;
  let badUri: unknown;
  try {
    cfg = typeof server === "string" ? parsePostgresUri(server) : server;
  } catch (err) {
    badUri = err;
  }
  const early = cfg ? openEarly(cfg) : undefined;
  let client: Deno.Conn;
  try {
    client = await clientConn;
  } catch (err) {
    early?.abandon();
    throw err;
  }
  let upstream: Deno.Conn | undefined;
  let spliced = false;
  try {
    setNoDelay(client);
    // The client's hop is already protected by the data connection: encryption is refused.
    const first = await negotiateStartup(client);
    if (!first) return;
    if (!cfg) throw badUri;
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

    const { conn, hello } = await connectPostgres(cfg, { params, log: opts.log, early });
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
    // Not taken by a login (a cancel request, a client gone before its startup).
    if (!upstream) early?.abandon();
    closeQuietly(client);
    closeQuietly(upstream);
  }
}

/**
 * The agent's MySQL front end: it plays server to the user's client and
 * client to the real server. The client is greeted with the real server's
 * greeting (version, connection id, charset, status, capabilities minus
 * TLS, compression and `LOCAL INFILE`) and a fresh scramble; whatever user
 * and password it sends are accepted (the gateway authorized the session),
 * and the agent logs in with the URI's credentials, which never leave it.
 * The server's own final OK reaches the client, then the two are spliced,
 * the client's side through {@linkcode CommandFilter} (no `COM_CHANGE_USER`).
 *
 * Because the greeting carries the real connection id, `KILL QUERY <id>`
 * from another session reaches the right server thread.
 *
 * @module
 */
import { closeQuietly, setNoDelay, writeAll } from "../../proto/bytes.ts";
import type { Logger } from "../../proto/log.ts";
import {
  Capability,
  encodeErr,
  encodeGreeting,
  encodePacket,
  ErrorCode,
  MAX_HANDSHAKE_BYTES,
  PacketReader,
  parseHandshakeResponse,
} from "../../proto/mysql/mod.ts";
import { type MysqlUri, parseMysqlUri } from "../../proto/mysql_uri.ts";
import { CommandFilter } from "./command_filter.ts";
import { loginMysql, MysqlConnectError, openMysql } from "./login.ts";

/** Options of {@linkcode serveMysql}. */
export interface ServeMysqlOptions {
  log: Logger;
  /** Relay bytes both ways until both directions end; owns neither conn. */
  splice: (a: Deno.Conn, b: Deno.Conn) => Promise<unknown>;
  /** Name of the hoop connection, prefixed to errors the client sees. */
  connectionName?: string;
}

/** Capabilities the client is never offered: hoop's hop is already encrypted, and it relays no files. */
const HIDDEN_CAPABILITIES = Capability.SSL | Capability.COMPRESS | Capability.ZSTD_COMPRESSION |
  Capability.QUERY_ATTRIBUTES |
  Capability.LOCAL_FILES;

/**
 * MariaDB's extended capabilities the client is never offered: bulk execution
 * (`COM_STMT_BULK_EXECUTE`, arrays of parameters) and the former `COM_MULTI`,
 * which the audit does not decode; clients then send one execution per row.
 */
const HIDDEN_MARIADB_CAPABILITIES = (1 << 1) | (1 << 2);

/**
 * Serve one MySQL client connection: open the real server of `server`, greet
 * the client with it, take the client's login, log in as the URI's user,
 * then splice. Rejects (after an ERR packet to the client) when the URI is
 * invalid or the server cannot be reached or refuses the login. Closes
 * `client` in every case.
 */
export async function serveMysql(
  clientConn: Deno.Conn | Promise<Deno.Conn>,
  server: MysqlUri | string,
  opts: ServeMysqlOptions,
): Promise<void> {
  // Paired first: MySQL servers drop a greeted client that stays silent (connect_timeout).
  const client = await clientConn;
  const prefix = opts.connectionName ? `connection ${opts.connectionName}: ` : "";
  let upstream: Deno.Conn | undefined;
  let spliced = false;
  let clientSeq = 0;
  try {
    setNoDelay(client);
    const cfg = typeof server === "string" ? parseMysqlUri(server) : server;
    const signal = AbortSignal.timeout(cfg.connectTimeoutMs);
    const opened = await openMysql(cfg, signal);
    upstream = opened.conn;
    const g = opened.greeting;
    await writeAll(
      client,
      encodePacket(
        0,
        encodeGreeting({
          ...g,
          capabilities: (g.capabilities & ~HIDDEN_CAPABILITIES) >>> 0,
          mariadbCapabilities: g.mariadbCapabilities & ~HIDDEN_MARIADB_CAPABILITIES,
          scramble: crypto.getRandomValues(new Uint8Array(20)),
          authPlugin: "mysql_native_password",
        }),
      ),
    );
    clientSeq = 1;
    const clientReader = new PacketReader(client);
    const msg = await clientReader.next(MAX_HANDSHAKE_BYTES);
    if (!msg) return;
    clientSeq = msg.lastSeq + 1;
    const resp = parseHandshakeResponse(msg.payload);
    if (resp.sslRequest) {
      throw new MysqlConnectError(
        "invalid_argument",
        "TLS was not offered",
        ErrorCode.HANDSHAKE,
        "08S01",
      );
    }
    const done = await loginMysql(opened, cfg, {
      capabilities: resp.capabilities,
      mariadbCapabilities: resp.mariadbCapabilities,
      charset: resp.charset,
      maxPacket: resp.maxPacket,
      database: resp.database,
      attrs: resp.attrs,
    });
    upstream = done.conn;
    await writeAll(client, encodePacket(clientSeq, done.ok));
    // Nothing is expected from the server before a command; whatever came follows the OK.
    const extra = done.reader.leftover();
    if (extra.length) await writeAll(client, extra);
    spliced = true;
    opts.log.debug("mysql login done", { server_thread: g.connectionId });
    const filtered = new CommandFilter(client, clientReader.leftover());
    await opts.splice(filtered as unknown as Deno.Conn, upstream);
  } catch (err) {
    if (!spliced) {
      const code = err instanceof MysqlConnectError ? err.errno : ErrorCode.HANDSHAKE;
      const sqlstate = err instanceof MysqlConnectError ? err.sqlstate : "08S01";
      const message = err instanceof Error ? err.message : String(err);
      try {
        await writeAll(
          client,
          encodePacket(clientSeq, encodeErr({ code, sqlstate, message: prefix + message })),
        );
      } catch {
        // The client is gone; the caller still gets the error.
      }
      opts.log.warn("mysql session failed", { error: message });
    }
    throw err;
  } finally {
    closeQuietly(client);
    closeQuietly(upstream);
  }
}

/**
 * The agent's PostgreSQL front: it plays server to the user's client (any
 * user name and password are accepted, the session was authorized by the
 * gateway) and client to the real server, logging in with the credentials of
 * the connection's URI, which never leave the agent. After authentication the
 * two sockets are spliced and the server's own `ParameterStatus`,
 * `BackendKeyData` and `ReadyForQuery` reach the client unchanged, so the
 * client's cancel requests carry the real backend key.
 *
 * TLS to the real server follows libpq's `sslmode`:
 * - `disable`, `allow`: plain TCP.
 * - `prefer` (default): TLS when the server offers it, else plain; not verified.
 * - `require`: TLS, not verified; with `sslrootcert` it verifies the chain
 *   (libpq's rule), like `verify-ca`.
 * - `verify-ca`: chain verified against `sslrootcert` (or the default roots).
 * - `verify-full`: chain and host name verified.
 *
 * `Deno.startTls` always verifies the chain, so the unverified modes use
 * `node:tls` with `rejectUnauthorized: false` behind a small `Deno.Conn`
 * adapter; verified modes use `Deno.startTls`. rustls (Deno's TLS) refuses a
 * certificate with `CA:TRUE` used as the server's own certificate
 * (`CaUsedAsEndEntity`), which self-signed `openssl req -x509` certificates
 * are by default: such servers work with `require`, not `verify-*`.
 *
 * @module
 */
import net from "node:net";
import { NodeSocketConn } from "../proto/node_socket_conn.ts";
import tls from "node:tls";
import { createHash } from "node:crypto";
import { HoopError } from "../proto/errors.ts";
import type { Logger } from "../proto/log.ts";
import {
  type ByteReader,
  encodeAuthenticationOk,
  encodeCancel,
  encodeErrorResponse,
  encodeNegotiateProtocolVersion,
  encodePasswordMessage,
  encodeSaslInitialResponse,
  encodeSaslResponse,
  encodeSslRequest,
  encodeStartup,
  MessageReader,
  parseErrorResponse,
  PROTOCOL_3_0,
  readFull,
  readStartup,
  type StartupPacket,
  writeAll,
} from "../proto/pgwire.ts";
import { SCRAM_SHA_256, ScramClient } from "./_scram.ts";

import { parsePostgresUri, type PostgresUri } from "../proto/postgres_uri.ts";

export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  parsePostgresUri,
  type PostgresUri,
  redactPostgresUri,
  type SslMode,
} from "../proto/postgres_uri.ts";

/** `host:port`, with brackets for IPv6. */
function hostPort(cfg: { host: string; port: number }): string {
  return cfg.host.includes(":") ? `[${cfg.host}]:${cfg.port}` : `${cfg.host}:${cfg.port}`;
}

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

/** A short reason from a Deno network error: no "(os error N)", lower case start. */
function reason(err: unknown): string {
  if (err instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (err instanceof Deno.errors.TimedOut) return "timed out";
  if (err instanceof Deno.errors.ConnectionReset) return "connection reset by the server";
  const msg = err instanceof Error ? err.message : String(err);
  const m = msg.replace(/\s*\(os error \d+\)\s*$/, "");
  return m.charAt(0).toLowerCase() + m.slice(1);
}

async function dial(cfg: PostgresUri, signal: AbortSignal): Promise<Deno.TcpConn> {
  try {
    const conn = await Deno.connect({ hostname: cfg.host, port: cfg.port, signal });
    conn.setNoDelay(true);
    return conn;
  } catch (err) {
    const why = signal.aborted ? `timed out after ${cfg.connectTimeoutMs / 1000} s` : reason(err);
    throw new PostgresConnectError(
      "unavailable",
      `could not reach ${hostPort(cfg)}: ${why}`,
      "08001",
      {
        cause: err,
      },
    );
  }
}

/** Read the one-byte answer to an SSLRequest. */
async function sslAnswer(conn: ByteReader, cfg: PostgresUri): Promise<"S" | "N"> {
  let b: Uint8Array | null;
  try {
    b = await readFull(conn, 1);
  } catch (err) {
    throw new PostgresConnectError(
      "unavailable",
      `could not set up TLS with ${hostPort(cfg)}: ${reason(err)}`,
      "08001",
      {
        cause: err,
      },
    );
  }
  const c = b ? String.fromCharCode(b[0]) : "";
  if (c === "S" || c === "N") return c;
  throw new PostgresConnectError(
    "unavailable",
    `could not set up TLS with ${hostPort(cfg)}: the server answered the SSL request with ${
      c ? `"${c}"` : "end of stream"
    } (is it PostgreSQL?)`,
    "08P01",
  );
}

/** True when the mode verifies certificates (Deno's TLS); false: unverified (node:tls). */
function verifies(cfg: PostgresUri): boolean {
  return cfg.sslmode === "verify-ca" || cfg.sslmode === "verify-full" ||
    (cfg.sslmode === "require" && cfg.sslrootcert !== undefined);
}

async function rootCerts(cfg: PostgresUri): Promise<string[] | undefined> {
  if (!cfg.sslrootcert || cfg.sslrootcert === "system") return undefined;
  try {
    return [await Deno.readTextFile(cfg.sslrootcert)];
  } catch (err) {
    throw new PostgresConnectError(
      "invalid_argument",
      `could not read sslrootcert "${cfg.sslrootcert}": ${reason(err)}`,
      "08001",
      { cause: err },
    );
  }
}

/** Open the transport to the real server per `sslmode`. */
async function openTransport(cfg: PostgresUri, signal: AbortSignal): Promise<Deno.Conn> {
  if (cfg.sslmode === "disable" || cfg.sslmode === "allow") return await dial(cfg, signal);
  if (verifies(cfg)) {
    const caCerts = await rootCerts(cfg);
    const tcp = await dial(cfg, signal);
    try {
      await writeAll(tcp, encodeSslRequest());
      if (await sslAnswer(tcp, cfg) === "N") {
        throw new PostgresConnectError(
          "unavailable",
          `could not set up TLS with ${
            hostPort(cfg)
          }: the server does not support SSL, but sslmode is ${cfg.sslmode}`,
          "08001",
        );
      }
      const secure = await Deno.startTls(tcp, {
        hostname: cfg.host,
        caCerts,
        unsafelyDisableHostnameVerification: cfg.sslmode !== "verify-full",
      });
      // The handshake is lazy; run it now so certificate errors are reported as TLS errors.
      try {
        await secure.handshake();
      } catch (err) {
        secure.close();
        throw err;
      }
      return secure;
    } catch (err) {
      try {
        tcp.close();
      } catch {
        // startTls consumed it already.
      }
      if (err instanceof PostgresConnectError) throw err;
      const why = /CaUsedAsEndEntity/.test(String(err))
        ? "the server's certificate is a CA certificate (CA:TRUE), which cannot be verified as a " +
          "server certificate; give the server a leaf certificate or use sslmode=require"
        : reason(err);
      throw new PostgresConnectError(
        "unavailable",
        `could not set up TLS with ${hostPort(cfg)}: ${why}`,
        "08001",
        { cause: err },
      );
    }
  }
  if (cfg.sslmode === "prefer") {
    // Probe on Deno's socket: a server without TLS keeps the fast native path.
    const tcp = await dial(cfg, signal);
    let answer: "S" | "N";
    try {
      await writeAll(tcp, encodeSslRequest());
      answer = await sslAnswer(tcp, cfg);
    } catch (err) {
      tcp.close();
      throw err;
    }
    if (answer === "N") return tcp;
    // Committed to TLS on this socket, which only Deno's verifying TLS could take over.
    tcp.close();
  }
  return await unverifiedTls(cfg, signal);
}

/** TLS without certificate checks (libpq `require`/`prefer`) through node:tls. */
async function unverifiedTls(cfg: PostgresUri, signal: AbortSignal): Promise<Deno.Conn> {
  const sock = net.connect({ host: cfg.host, port: cfg.port, noDelay: true, allowHalfOpen: true });
  const onAbort = () => sock.destroy(new Deno.errors.TimedOut("timed out"));
  signal.addEventListener("abort", onAbort);
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", reject);
    });
    const plain = new NodeSocketConn(sock);
    let answer: "S" | "N";
    try {
      await writeAll(plain, encodeSslRequest());
      answer = await sslAnswer(plain, cfg);
    } finally {
      plain.detach();
    }
    if (answer === "N") {
      if (cfg.sslmode === "prefer") return new NodeSocketConn(sock);
      throw new PostgresConnectError(
        "unavailable",
        `could not set up TLS with ${
          hostPort(cfg)
        }: the server does not support SSL, but sslmode is ${cfg.sslmode}`,
        "08001",
      );
    }
    const secure = tls.connect({
      socket: sock,
      rejectUnauthorized: false,
      servername: net.isIP(cfg.host) ? undefined : cfg.host,
    });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    return new NodeSocketConn(secure);
  } catch (err) {
    sock.destroy();
    if (err instanceof PostgresConnectError) throw err;
    const why = signal.aborted ? `timed out after ${cfg.connectTimeoutMs / 1000} s` : reason(err);
    const code = (err as { code?: string }).code;
    const what = code === "ECONNREFUSED" ? "connection refused" : why;
    throw new PostgresConnectError(
      "unavailable",
      `could not reach ${hostPort(cfg)}: ${what}`,
      "08001",
      {
        cause: err,
      },
    );
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function md5Hex(data: string | Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

/** libpq's MD5 answer: `md5` + md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Uint8Array): string {
  const inner = md5Hex(password + user);
  const enc = new TextEncoder();
  const buf = new Uint8Array(inner.length + salt.length);
  buf.set(enc.encode(inner), 0);
  buf.set(salt, inner.length);
  return "md5" + md5Hex(buf);
}

/** Options of {@linkcode connectPostgres}. */
export interface ConnectPostgresOptions {
  /** Extra startup parameters (the client's `application_name`...); the URI's own win. */
  params?: Record<string, string>;
  /** Debug lines about the login (never the password). */
  log?: Logger;
}

/**
 * Connect and log in to the server of `uri`. `hello` is what the client must
 * be sent before splicing: an `AuthenticationOk` followed by every server byte
 * already read past it (`ParameterStatus`...). Throws
 * {@linkcode PostgresConnectError} with a user-facing message.
 */
export async function connectPostgres(
  uri: string,
  opts: ConnectPostgresOptions = {},
): Promise<{ conn: Deno.Conn; hello: Uint8Array }> {
  const cfg = parsePostgresUri(uri);
  const signal = AbortSignal.timeout(cfg.connectTimeoutMs);
  const conn = await openTransport(cfg, signal);
  // Bound the login too: a server that accepts and then stays silent must not hang the session.
  const onAbort = () => {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  };
  signal.addEventListener("abort", onAbort);
  try {
    const startup: Record<string, string> = { ...opts.params, ...cfg.params };
    startup.user = cfg.user;
    startup.database = cfg.database;
    await writeAll(conn, encodeStartup(startup));
    const reader = new MessageReader(conn, { maxBodyBytes: 64 * 1024 });
    await authenticate(reader, conn, cfg, opts.log);
    const rest = reader.takeBuffered();
    const ok = encodeAuthenticationOk();
    const hello = new Uint8Array(ok.length + rest.length);
    hello.set(ok, 0);
    hello.set(rest, ok.length);
    return { conn, hello };
  } catch (err) {
    onAbort();
    if (err instanceof PostgresConnectError) throw err;
    const why = signal.aborted ? `timed out after ${cfg.connectTimeoutMs / 1000} s` : reason(err);
    throw new PostgresConnectError(
      "unavailable",
      `the agent could not log in to ${hostPort(cfg)} as "${cfg.user}": ${why}`,
      "08006",
      { cause: err },
    );
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

async function authenticate(
  reader: MessageReader,
  conn: Deno.Conn,
  cfg: PostgresUri,
  log?: Logger,
): Promise<void> {
  const loginFailed = (why: string, sqlstate = "28000") =>
    new PostgresConnectError(
      "unauthenticated",
      `the agent could not log in to ${hostPort(cfg)} as "${cfg.user}": ${why}`,
      sqlstate,
    );
  const needPassword = () => {
    if (!cfg.password) {
      throw loginFailed("the server asks for a password and the connection URI has none");
    }
  };
  let scram: ScramClient | null = null;
  for (;;) {
    const msg = await reader.next();
    if (!msg) throw loginFailed("the server closed the connection during authentication", "08006");
    if (msg.type === "E") {
      const e = parseErrorResponse(msg.body);
      throw loginFailed(e.message, e.code);
    }
    if (msg.type === "N" || msg.type === "v") continue; // notices; protocol negotiation of 3.0 is a no-op
    if (msg.type !== "R" || msg.body.length < 4) {
      throw loginFailed(`unexpected message "${msg.type}" during authentication`, "08P01");
    }
    const view = new DataView(msg.body.buffer, msg.body.byteOffset, msg.body.byteLength);
    const code = view.getInt32(0);
    switch (code) {
      case 0:
        log?.debug("postgres login ok", { server: hostPort(cfg), user: cfg.user });
        return;
      case 3:
        needPassword();
        log?.debug("postgres login with a cleartext password", { server: hostPort(cfg) });
        await writeAll(conn, encodePasswordMessage(cfg.password));
        break;
      case 5:
        needPassword();
        log?.debug("postgres login with md5", { server: hostPort(cfg) });
        await writeAll(
          conn,
          encodePasswordMessage(md5Password(cfg.user, cfg.password, msg.body.slice(4, 8))),
        );
        break;
      case 10: {
        const mechanisms: string[] = [];
        let off = 4;
        while (off < msg.body.length && msg.body[off] !== 0) {
          let end = msg.body.indexOf(0, off);
          if (end < 0) end = msg.body.length;
          mechanisms.push(new TextDecoder().decode(msg.body.subarray(off, end)));
          off = end + 1;
        }
        if (!mechanisms.includes(SCRAM_SHA_256)) {
          throw loginFailed(
            `the server offers SASL mechanisms ${
              mechanisms.join(", ")
            }; hoop speaks ${SCRAM_SHA_256}`,
          );
        }
        needPassword();
        log?.debug("postgres login with scram-sha-256", { server: hostPort(cfg) });
        scram = new ScramClient(cfg.password);
        await writeAll(conn, encodeSaslInitialResponse(SCRAM_SHA_256, scram.clientFirst()));
        break;
      }
      case 11:
        if (!scram) {
          throw loginFailed("the server continued a SASL exchange that was not started", "08P01");
        }
        await writeAll(conn, encodeSaslResponse(await scram.clientFinal(msg.body.subarray(4))));
        break;
      case 12:
        if (!scram) {
          throw loginFailed("the server finished a SASL exchange that was not started", "08P01");
        }
        try {
          scram.verifyServerFinal(msg.body.subarray(4));
        } catch (err) {
          throw loginFailed((err as Error).message, "28000");
        }
        break;
      default: {
        const names: Record<number, string> = { 2: "Kerberos V5", 7: "GSSAPI", 9: "SSPI" };
        throw loginFailed(
          `the server asks for ${
            names[code] ?? `authentication method ${code}`
          }, which hoop does not support`,
        );
      }
    }
  }
}

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
/** How many SSL/GSS encryption requests a client may send before its startup. */
const MAX_ENCRYPTION_REQUESTS = 2;

/**
 * Serve one PostgreSQL client connection: answer its startup as a server,
 * log in to the real server of `uri`, then splice. Resolves when the session
 * ends; rejects with a {@linkcode HoopError} (after telling the client with an
 * `ErrorResponse`) when the server cannot be reached or refuses the login.
 * Closes `client` in every case.
 */
export async function servePostgres(
  client: Deno.Conn,
  uri: string,
  opts: ServePostgresOptions,
): Promise<void> {
  const prefix = opts.connectionName ? `connection ${opts.connectionName}: ` : "";
  let server: Deno.Conn | undefined;
  let spliced = false;
  try {
    (client as Partial<Deno.TcpConn>).setNoDelay?.(true);
    let first: StartupPacket | null = await readStartup(client);
    for (let i = 0; first && (first.kind === "ssl" || first.kind === "gssenc"); i++) {
      if (i >= MAX_ENCRYPTION_REQUESTS) {
        throw new HoopError(
          "invalid_argument",
          "Cannot start PostgreSQL session: too many encryption requests",
        );
      }
      // The client's hop is already protected by the data connection.
      await writeAll(client, new TextEncoder().encode("N"));
      first = await readStartup(client);
    }
    if (!first) return;
    if (first.kind === "cancel") {
      await forwardCancel(uri, first.pid, first.secret, opts.log);
      return;
    }
    if (first.kind !== "startup") return;

    const params: Record<string, string> = {};
    const unsupported: string[] = [];
    for (const [k, v] of Object.entries(first.params)) {
      if (k.startsWith("_pq_.")) unsupported.push(k);
      else if (!CLIENT_PARAMS_DROPPED.has(k)) params[k] = v;
    }
    const minor = first.protocol & 0xffff;
    const negotiate = minor > 0 || unsupported.length > 0
      ? encodeNegotiateProtocolVersion(PROTOCOL_3_0 & 0xffff, unsupported)
      : new Uint8Array(0);

    const { conn, hello } = await connectPostgres(uri, { params, log: opts.log });
    server = conn;
    if (negotiate.length > 0) await writeAll(client, negotiate);
    await writeAll(client, hello);
    spliced = true;
    await opts.splice(client, server);
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
    for (const c of [client, server]) {
      try {
        c?.close();
      } catch {
        // Closed already (by the splice).
      }
    }
  }
}

/** How long a forwarded cancel waits for the server to close its connection. */
const CANCEL_WAIT_MS = 5_000;

/** Send a client's CancelRequest to the real server on a new connection, unchanged. */
async function forwardCancel(
  uri: string,
  pid: number,
  secret: Uint8Array,
  log: Logger,
): Promise<void> {
  const cfg = parsePostgresUri(uri);
  // Cancel requests are never encrypted by PostgreSQL 15's libpq; servers accept them in the clear.
  const conn = await dial(cfg, AbortSignal.timeout(cfg.connectTimeoutMs));
  try {
    await writeAll(conn, encodeCancel(pid, secret));
    log.debug("postgres cancel request forwarded", { server: hostPort(cfg), pid });
    // libpq waits for the server to close the cancel connection (the request is then
    // processed); holding the client until then keeps that meaning, within a bound.
    const timer = setTimeout(() => conn.close(), CANCEL_WAIT_MS);
    try {
      await conn.read(new Uint8Array(1));
    } catch {
      // Closed by the timer or reset by the server: either way, done.
    } finally {
      clearTimeout(timer);
    }
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
}

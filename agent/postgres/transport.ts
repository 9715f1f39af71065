/**
 * The agent's transport to the real PostgreSQL server, following libpq's
 * `sslmode`:
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
import tls from "node:tls";
import {
  type ByteReader,
  type ByteWriter,
  closeOnAbort,
  closeQuietly,
  readFull,
  writeAll,
} from "../../proto/bytes.ts";
import { NodeSocketConn } from "../../proto/node_socket_conn.ts";
import { encodeSslRequest } from "../../proto/pgwire/mod.ts";
import type { PostgresUri } from "../../proto/postgres_uri.ts";
import { failureReason, PostgresConnectError, reason, serverAddr } from "./connect_error.ts";

/** Plain TCP to the server, Nagle off; refused or timed out is `unavailable` (08001). */
export async function dial(cfg: PostgresUri, signal: AbortSignal): Promise<Deno.TcpConn> {
  try {
    const conn = await Deno.connect({ hostname: cfg.host, port: cfg.port, signal });
    conn.setNoDelay(true);
    return conn;
  } catch (err) {
    throw new PostgresConnectError(
      "unavailable",
      `could not reach ${serverAddr(cfg)}: ${failureReason(err, cfg, signal)}`,
      "08001",
      { cause: err },
    );
  }
}

function tlsFailed(cfg: PostgresUri, why: string, sqlstate = "08001", cause?: unknown) {
  return new PostgresConnectError(
    "unavailable",
    `could not set up TLS with ${serverAddr(cfg)}: ${why}`,
    sqlstate,
    cause === undefined ? undefined : { cause },
  );
}

function noSsl(cfg: PostgresUri): PostgresConnectError {
  return tlsFailed(cfg, `the server does not support SSL, but sslmode is ${cfg.sslmode}`);
}

/** Send an SSLRequest and read the server's one-byte answer, within `signal`. */
async function requestSsl(
  conn: ByteReader & ByteWriter & { close(): void },
  cfg: PostgresUri,
  signal: AbortSignal,
): Promise<"S" | "N"> {
  let b: Uint8Array | null;
  try {
    b = await closeOnAbort(conn, signal, async () => {
      await writeAll(conn, encodeSslRequest());
      return await readFull(conn, 1);
    });
  } catch (err) {
    throw tlsFailed(cfg, failureReason(err, cfg, signal), "08001", err);
  }
  const c = b ? String.fromCharCode(b[0]) : "";
  if (c === "S" || c === "N") return c;
  throw tlsFailed(
    cfg,
    `the server answered the SSL request with ${
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
    const why = err instanceof Deno.errors.NotFound ? "no such file" : reason(err);
    throw new PostgresConnectError(
      "invalid_argument",
      `could not read sslrootcert "${cfg.sslrootcert}": ${why}`,
      "08001",
      { cause: err },
    );
  }
}

/**
 * Open the transport to the server of `cfg` per its `sslmode`, within
 * `signal`. Throws {@linkcode PostgresConnectError} with a user-facing message.
 */
export async function openTransport(cfg: PostgresUri, signal: AbortSignal): Promise<Deno.Conn> {
  if (cfg.sslmode === "disable" || cfg.sslmode === "allow") return await dial(cfg, signal);
  if (verifies(cfg)) return await verifiedTls(cfg, signal);
  if (cfg.sslmode === "prefer") {
    // Probe on Deno's socket: a server without TLS keeps the fast native path.
    const tcp = await dial(cfg, signal);
    let answer: "S" | "N";
    try {
      answer = await requestSsl(tcp, cfg, signal);
    } catch (err) {
      closeQuietly(tcp); // closed already when the deadline passed
      throw err;
    }
    if (answer === "N") return tcp;
    // Committed to TLS on this socket, which only Deno's verifying TLS could take over.
    tcp.close();
  }
  return await unverifiedTls(cfg, signal);
}

/** TLS with the chain (and for `verify-full` the name) checked, on Deno's TLS. */
async function verifiedTls(cfg: PostgresUri, signal: AbortSignal): Promise<Deno.Conn> {
  const caCerts = await rootCerts(cfg);
  const tcp = await dial(cfg, signal);
  try {
    if (await requestSsl(tcp, cfg, signal) === "N") throw noSsl(cfg);
    const secure = await Deno.startTls(tcp, {
      hostname: cfg.host,
      caCerts,
      unsafelyDisableHostnameVerification: cfg.sslmode !== "verify-full",
    });
    // The handshake is lazy; run it now so certificate errors are reported as TLS errors.
    try {
      await closeOnAbort(secure, signal, () => secure.handshake());
    } catch (err) {
      secure.close();
      throw err;
    }
    return secure;
  } catch (err) {
    closeQuietly(tcp); // startTls may have consumed it already
    if (err instanceof PostgresConnectError) throw err;
    const why = /CaUsedAsEndEntity/.test(String(err))
      ? "the server's certificate is a CA certificate (CA:TRUE), which cannot be verified as a " +
        "server certificate; give the server a leaf certificate or use sslmode=require"
      : failureReason(err, cfg, signal);
    throw tlsFailed(cfg, why, "08001", err);
  }
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
      answer = await requestSsl(plain, cfg, signal);
    } finally {
      plain.detach();
    }
    if (answer === "N") {
      if (cfg.sslmode === "prefer") return new NodeSocketConn(sock);
      throw noSsl(cfg);
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
    const code = (err as { code?: string }).code;
    const what = code === "ECONNREFUSED" ? "connection refused" : failureReason(err, cfg, signal);
    throw new PostgresConnectError(
      "unavailable",
      `could not reach ${serverAddr(cfg)}: ${what}`,
      "08001",
      { cause: err },
    );
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

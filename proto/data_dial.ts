/**
 * Dialing the gateway's data port, the same for clients and agents: TCP with
 * Nagle off (then TLS on top when the gateway has a certificate, so the small
 * header write is not held back ~40 ms), the header with the one-time ticket,
 * then the gateway's status once the other side has arrived.
 *
 * @module
 */
import { writeAll } from "./bytes.ts";
import { DataSide, encodeHeader, readStatus } from "./data_header.ts";
import { HoopError, unavailable } from "./errors.ts";
import { parseHostPort } from "./host_port.ts";
import { decodeBase64Url } from "./base64.ts";
import { describeNetError } from "./net_error.ts";

/** Where and how to dial the data port. */
export interface DataTarget {
  /** `host:port`. */
  addr: string;
  tls: boolean;
  /** PEM of the CA to trust for TLS (`HOOP_TLSCA`); system roots when absent. */
  caCert?: string;
}

/** The gateway refused the data connection; `reason` is its message. */
export class DataRefusedError extends HoopError {
  readonly reason: string;
  constructor(reason: string) {
    super("unavailable", reason);
    this.name = "DataRefusedError";
    this.reason = reason;
  }
}

/**
 * Open TCP (Nagle off) and, when the gateway has a certificate, TLS to the
 * data port. Throws `unavailable` when the port cannot be reached.
 */
export async function connectDataPort(target: DataTarget): Promise<Deno.Conn> {
  const { hostname, port } = parseHostPort(target.addr, { what: "data address" });
  try {
    const tcp = await Deno.connect({ hostname, port });
    tcp.setNoDelay(true);
    if (!target.tls) return tcp;
    const tls = await Deno.startTls(tcp, {
      hostname,
      caCerts: target.caCert ? [target.caCert] : undefined,
    });
    // The handshake runs on first use: finish it now, so a warm connection is warm.
    await tls.handshake();
    return tls;
  } catch (err) {
    throw unavailable(
      `Cannot reach the gateway's data port ${target.addr}: ${describeNetError(err)}`,
      { cause: err },
    );
  }
}

/**
 * On an open data connection, send the header for `side` with `ticket`
 * (base64url) and wait (at most `waitMs`) for the gateway's status. Resolves
 * with `conn` when accepted; closes it and throws {@linkcode DataRefusedError}
 * when refused, `unavailable` when the connection fails.
 */
export async function presentTicket(
  conn: Deno.Conn,
  target: DataTarget,
  side: DataSide,
  ticket: string,
  opts: { waitMs: number },
): Promise<Deno.Conn> {
  try {
    await writeAll(conn, encodeHeader(side, decodeBase64Url(ticket)));
    const status = await readStatus(conn, opts.waitMs);
    if (!status.ok) throw new DataRefusedError(status.message);
    return conn;
  } catch (err) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    if (err instanceof HoopError) throw err;
    throw unavailable(`The data connection to ${target.addr} failed: ${describeNetError(err)}`, {
      cause: err,
    });
  }
}

/**
 * Dial, present `ticket` (base64url) for `side`, and resolve with the
 * connection once the gateway has paired it (within `pairWaitMs`). With
 * `warm` (a parked connection, proto/warm_pool.ts) the ticket goes there
 * first; if that connection has died, a fresh one presents the same ticket,
 * which the gateway never read. Throws `unavailable` when the port cannot be
 * reached and {@linkcode DataRefusedError} when the gateway refuses.
 */
export async function dialDataPort(
  target: DataTarget,
  side: DataSide,
  ticket: string,
  opts: { pairWaitMs: number; warm?: Deno.Conn },
): Promise<Deno.Conn> {
  if (opts.warm) {
    try {
      return await presentTicket(opts.warm, target, side, ticket, { waitMs: opts.pairWaitMs });
    } catch (err) {
      if (err instanceof DataRefusedError) throw err;
    }
  }
  const conn = await connectDataPort(target);
  return await presentTicket(conn, target, side, ticket, { waitMs: opts.pairWaitMs });
}

/**
 * Dial and park a warm connection under `warmKey` (base64url): resolves once
 * the gateway has parked it (within `waitMs`).
 */
export async function parkWarm(
  target: DataTarget,
  warmKey: string,
  opts: { waitMs: number },
): Promise<Deno.Conn> {
  const conn = await connectDataPort(target);
  return await presentTicket(conn, target, DataSide.WARM, warmKey, opts);
}

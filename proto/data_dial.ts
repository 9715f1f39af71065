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
 * Dial, present `ticket` (base64url) for `side`, and resolve with the
 * connection once the gateway has paired it (within `pairWaitMs`). Throws
 * `unavailable` when the port cannot be reached and {@linkcode DataRefusedError}
 * when the gateway refuses.
 */
export async function dialDataPort(
  target: DataTarget,
  side: DataSide,
  ticket: string,
  opts: { pairWaitMs: number },
): Promise<Deno.Conn> {
  const { hostname, port } = parseHostPort(target.addr, { what: "data address" });
  let conn: Deno.Conn;
  try {
    const tcp = await Deno.connect({ hostname, port });
    tcp.setNoDelay(true);
    conn = target.tls
      ? await Deno.startTls(tcp, {
        hostname,
        caCerts: target.caCert ? [target.caCert] : undefined,
      })
      : tcp;
  } catch (err) {
    throw unavailable(
      `Cannot reach the gateway's data port ${target.addr}: ${describeNetError(err)}`,
      {
        cause: err,
      },
    );
  }
  try {
    await writeAll(conn, encodeHeader(side, decodeBase64Url(ticket)));
    const status = await readStatus(conn, opts.pairWaitMs);
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

/**
 * The data port: clients and agents dial it, present a one-time ticket in the
 * data header (proto/data_header.ts), and the broker pairs and relays them.
 *
 * TLS connections accepted by `Deno.listenTls` have no `setNoDelay`; the
 * listener gets TCP_NODELAY instead, which its connections inherit
 * (proto/listen.ts), since with Nagle on the status byte waited ~40 ms for
 * the peer's delayed ACK. A node:tls server with `setNoDelay` was the other
 * way measured: ~2 ms set-up, but bulk data at a third of the speed (91 vs
 * 288 MB/s on a 500 MB COPY). Peers dial with Nagle off (proto/data_dial.ts),
 * which removed the other ~44 ms.
 *
 * @module
 */
import { acceptLoop } from "../proto/accept_loop.ts";
import { closeQuietly } from "../proto/bytes.ts";
import {
  DataHeaderError,
  DataSide,
  DataStatus,
  readHeader,
  writeStatus,
} from "../proto/data_header.ts";
import type { HostPort } from "../proto/host_port.ts";
import { listenNoDelay } from "../proto/listen.ts";
import type { Logger } from "../proto/log.ts";
import type { SessionBroker } from "./broker/mod.ts";
import { WARM_IDLE_MS, type WarmParking } from "./warm_parking.ts";

/** A peer must send its header this fast after connecting. */
const HEADER_TIMEOUT_MS = 5_000;

/** A running data listener. */
export interface DataServer {
  readonly addr: HostPort;
  close(): void;
}

/** Options of {@linkcode startDataServer}. */
export interface DataServerOptions {
  broker: SessionBroker;
  log: Logger;
  tls?: { cert: string; key: string };
  /** Where warm connections park; without it, side 3 headers are refused. */
  parking?: WarmParking;
}

/** Listen on `addr` (TLS when `tls` is given) and hand each connection to the broker. */
export function startDataServer(addr: HostPort, opts: DataServerOptions): DataServer {
  const { listener, noDelay } = listenNoDelay(addr, opts.tls);
  if (opts.tls && !noDelay) {
    opts.log.warn(
      "data port: cannot turn Nagle's algorithm off for TLS connections (needs Linux and --allow-ffi); session set-up may take ~40 ms longer",
    );
  }
  const loop = acceptLoop<Deno.Conn>(listener, (conn) => handle(conn, opts), {
    onAcceptError: (err) => opts.log.warn("data port accept failed", { err }),
    onError: (err) => opts.log.warn("data connection failed", { err }),
  });
  const bound = listener.addr as Deno.NetAddr;
  return { addr: { hostname: bound.hostname, port: bound.port }, close: () => loop.close() };
}

/**
 * Park a warm connection, then wait for its session header (an agent's or
 * client's, as its key says), at most {@linkcode WARM_IDLE_MS}.
 */
async function parkUntilUsed(
  conn: Deno.Conn,
  key: Uint8Array,
  opts: DataServerOptions,
): Promise<{ side: DataSide; ticket: Uint8Array }> {
  if (!opts.parking) {
    throw new DataHeaderError(
      "Cannot park data connection: this gateway keeps no warm connections",
    );
  }
  const owner = opts.parking.park(key, conn);
  try {
    await writeStatus(conn, DataStatus.OK);
    const header = await readHeader(conn, WARM_IDLE_MS);
    if (header.side !== owner.side) {
      throw new DataHeaderError(
        `Cannot accept data connection: it was parked for side ${owner.side}, not ${header.side}`,
      );
    }
    return header;
  } finally {
    opts.parking.release(owner, conn);
  }
}

async function handle(conn: Deno.Conn, opts: DataServerOptions): Promise<void> {
  try {
    let header = await readHeader(conn, HEADER_TIMEOUT_MS);
    if (header.side === DataSide.WARM) header = await parkUntilUsed(conn, header.ticket, opts);
    await opts.broker.attach(conn, header.side, header.ticket);
  } catch (err) {
    if (err instanceof DataHeaderError) {
      opts.log.debug("data connection refused", { err });
      await writeStatus(conn, DataStatus.BAD_HEADER, err.message).catch(() => {});
    } else {
      opts.log.debug("data connection failed", { err });
    }
    closeQuietly(conn);
  }
}

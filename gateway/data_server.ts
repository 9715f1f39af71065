/**
 * The data port: clients and agents dial it, present a one-time ticket in the
 * data header (proto/data_header.ts), and the broker pairs and relays them.
 *
 * TLS connections accepted by `Deno.listenTls` cannot turn Nagle's algorithm
 * off, so the gateway's first small write (the status byte) can wait ~40 ms
 * for the peer's delayed ACK of the TLS session tickets. A node:tls server
 * with `setNoDelay` removes that (measured: ~2 ms set-up) but carried bulk
 * data at a third of the speed (91 vs 288 MB/s on a 500 MB COPY), so the
 * Deno listener stays. Peers dial with Nagle off (proto/data_dial.ts), which
 * removed the other ~44 ms.
 *
 * @module
 */
import { acceptLoop } from "../proto/accept_loop.ts";
import { closeQuietly } from "../proto/bytes.ts";
import { DataHeaderError, DataStatus, readHeader, writeStatus } from "../proto/data_header.ts";
import type { HostPort } from "../proto/host_port.ts";
import type { Logger } from "../proto/log.ts";
import type { SessionBroker } from "./broker/mod.ts";

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
}

/** Listen on `addr` (TLS when `tls` is given) and hand each connection to the broker. */
export function startDataServer(addr: HostPort, opts: DataServerOptions): DataServer {
  const listener = opts.tls
    ? Deno.listenTls({ hostname: addr.hostname, port: addr.port, ...opts.tls })
    : Deno.listen({ hostname: addr.hostname, port: addr.port });
  const loop = acceptLoop<Deno.Conn>(listener, (conn) => handle(conn, opts), {
    onAcceptError: (err) => opts.log.warn("data port accept failed", { err }),
    onError: (err) => opts.log.warn("data connection failed", { err }),
  });
  const bound = listener.addr as Deno.NetAddr;
  return { addr: { hostname: bound.hostname, port: bound.port }, close: () => loop.close() };
}

async function handle(conn: Deno.Conn, opts: DataServerOptions): Promise<void> {
  try {
    const header = await readHeader(conn, HEADER_TIMEOUT_MS);
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

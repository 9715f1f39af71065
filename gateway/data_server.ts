/**
 * The data port: clients and agents dial it, present a one-time ticket in the
 * data header (proto/data_header.ts), and the broker pairs and relays them.
 *
 * @module
 */
import { DataHeaderError, readHeader, writeStatus } from "../proto/data_header.ts";
import type { HostPort } from "../proto/host_port.ts";
import type { Logger } from "../proto/log.ts";
import type { SessionBroker } from "./session_broker.ts";

/** A peer must send its header this fast after connecting. */
const HEADER_TIMEOUT_MS = 5_000;

/** Refusal code for a malformed header. */
const REFUSED_HEADER = 1;

/** A running data listener. */
export interface DataServer {
  readonly addr: HostPort;
  close(): void;
}

/** Listen on `addr` (TLS when `tls` is given) and hand each connection to the broker. */
export function startDataServer(
  addr: HostPort,
  opts: { broker: SessionBroker; log: Logger; tls?: { cert: string; key: string } },
): DataServer {
  const listener: Deno.Listener = opts.tls
    ? Deno.listenTls({ hostname: addr.hostname, port: addr.port, ...opts.tls })
    : Deno.listen({ hostname: addr.hostname, port: addr.port });
  const bound = listener.addr as Deno.NetAddr;
  const conns = new Set<Deno.Conn>();
  let closed = false;

  (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closed) return;
        if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
          return;
        }
        opts.log.warn("data port accept failed", { err });
        continue;
      }
      conns.add(conn);
      void handle(conn).finally(() => conns.delete(conn));
    }
  })();

  async function handle(conn: Deno.Conn): Promise<void> {
    try {
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      const header = await readHeader(conn, HEADER_TIMEOUT_MS);
      await opts.broker.attach(conn, header.side, header.ticket);
    } catch (err) {
      if (err instanceof DataHeaderError) {
        opts.log.debug("data connection refused", { err });
        try {
          await writeStatus(conn, REFUSED_HEADER, err.message);
        } catch {
          // Peer gone.
        }
      } else {
        opts.log.debug("data connection failed", { err });
      }
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  return {
    addr: { hostname: bound.hostname, port: bound.port },
    close() {
      closed = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    },
  };
}

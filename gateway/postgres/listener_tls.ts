/**
 * TLS on the listener's accepted connections, in both of PostgreSQL's ways:
 * after an `SSLRequest` answered `S`, and direct (PostgreSQL 17's
 * `sslnegotiation=direct`: a ClientHello first, ALPN `postgresql` required).
 * Deno's `startTls` is client-side only, so the server side runs in
 * `node:tls` over the accepted `Deno.Conn` (through `connDuplex`), and the
 * result is a `Deno.Conn` again for the rest of the listener and the broker.
 *
 * @module
 */
import tls from "node:tls";
import type net from "node:net";
import { HoopError } from "../../proto/errors.ts";
import { connDuplex, NodeSocketConn } from "../../proto/node_socket_conn.ts";

/** The ALPN protocol of PostgreSQL, required on direct TLS as PostgreSQL 17 requires it. */
export const POSTGRES_ALPN = "postgresql";

/** PEM certificate (chain) and private key of the listener. */
export interface ListenerTlsFiles {
  cert: string;
  key: string;
}

/** How a client started TLS. */
export type TlsStart = "ssl_request" | "direct";

/** The server side of the listener's TLS, one secure context for every connection. */
export class ListenerTls {
  #context: tls.SecureContext;

  /** Throws `invalid_argument` when the PEM certificate or key cannot be used. */
  constructor(files: ListenerTlsFiles) {
    try {
      this.#context = tls.createSecureContext({ cert: files.cert, key: files.key });
    } catch (err) {
      throw new HoopError(
        "invalid_argument",
        `Cannot use the TLS certificate for the PostgreSQL listener: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /**
   * Run the server handshake on `conn`, whose first bytes `replay` (a direct
   * ClientHello's) were already read. Resolves with the encrypted conn, which
   * owns `conn`; rejects when the handshake fails or a direct client did not
   * negotiate ALPN `postgresql`.
   */
  async accept(conn: Deno.Conn, how: TlsStart, replay?: Uint8Array): Promise<Deno.Conn> {
    const sock = new tls.TLSSocket(connDuplex(conn, replay) as unknown as net.Socket, {
      isServer: true,
      secureContext: this.#context,
      ALPNProtocols: [POSTGRES_ALPN],
    });
    // Wrapped at once so that no early byte or error goes unheard.
    const secured = new NodeSocketConn(sock, {
      localAddr: conn.localAddr as Deno.NetAddr,
      remoteAddr: conn.remoteAddr as Deno.NetAddr,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once("secure", resolve);
        sock.once("error", reject);
        sock.once("close", () => reject(new Deno.errors.UnexpectedEof("the client closed")));
      });
    } catch (err) {
      secured.close();
      throw new HoopError(
        "invalid_argument",
        `Cannot start TLS with PostgreSQL client: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (how === "direct" && sock.alpnProtocol !== POSTGRES_ALPN) {
      // PostgreSQL refuses direct TLS without ALPN: it guards against
      // cross-protocol attacks from clients of other TLS services.
      secured.close();
      throw new HoopError(
        "invalid_argument",
        `Cannot accept direct TLS from PostgreSQL client: it did not negotiate ALPN "${POSTGRES_ALPN}"`,
      );
    }
    return secured;
  }
}

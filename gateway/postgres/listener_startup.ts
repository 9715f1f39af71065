/**
 * The listener's startup negotiation: `proto/pgwire`'s, plus TLS. An
 * `SSLRequest` is answered `S` and the connection upgraded when the listener
 * has a certificate (`N` otherwise); a client that opens with a TLS record
 * instead of a packet length is PostgreSQL 17's direct TLS. `GSSENCRequest`
 * is always refused.
 *
 * @module
 */
import { readFull, writeAll } from "../../proto/bytes.ts";
import { HoopError } from "../../proto/errors.ts";
import {
  type ClientStartup,
  MAX_ENCRYPTION_REQUESTS,
  readStartupRest,
  TLS_HANDSHAKE_RECORD_BYTE,
} from "../../proto/pgwire/mod.ts";
import type { ListenerTls } from "./listener_tls.ts";

/** What a listener client opened with, and over what. */
export interface ListenerStartup extends ClientStartup {
  /** The connection to go on with: the accepted one, or TLS over it. */
  conn: Deno.Conn;
  /** True when `conn` is encrypted. */
  secure: boolean;
}

const encoder = new TextEncoder();

/**
 * Answer a client's encryption requests (upgrading to TLS when `tls` is
 * given) and read its `StartupMessage` or `CancelRequest`. Resolves `null`
 * when the client closed first; throws `invalid_argument` for a malformed
 * packet, a failed handshake, direct TLS without a certificate, or more than
 * `MAX_ENCRYPTION_REQUESTS` encryption requests.
 */
export async function negotiateListenerStartup(
  accepted: Deno.Conn,
  tls: ListenerTls | undefined,
): Promise<ListenerStartup | null> {
  let conn = accepted;
  let secure = false;
  for (let requests = 0;; requests++) {
    const head = await readFull(conn, 4, "PostgreSQL startup packet");
    if (!head) return null;
    if (head[0] === TLS_HANDSHAKE_RECORD_BYTE && requests === 0) {
      if (!tls) {
        throw new HoopError(
          "invalid_argument",
          "Cannot accept direct TLS from PostgreSQL client: the listener has no certificate",
          {
            hint:
              "start the gateway with --tls-cert and --tls-key, or connect with sslmode=disable",
          },
        );
      }
      conn = await tls.accept(conn, "direct", head);
      secure = true;
      continue;
    }
    const { packet, raw } = await readStartupRest(conn, head);
    if (packet.kind === "startup" || packet.kind === "cancel") {
      return { packet, raw, conn, secure };
    }
    if (requests >= MAX_ENCRYPTION_REQUESTS) {
      throw new HoopError(
        "invalid_argument",
        "Cannot start PostgreSQL session: too many encryption requests",
      );
    }
    if (packet.kind === "ssl" && tls && !secure) {
      conn = await tls.accept(conn, "ssl_request");
      secure = true;
    } else await writeAll(conn, encoder.encode("N"));
  }
}

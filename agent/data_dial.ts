/**
 * The agent's side of a data connection: dial the gateway's data port, send
 * the header with the agent ticket, and wait for the gateway to pair it.
 *
 * @module
 */
import { DataSide, encodeHeader, readStatus } from "../proto/data_header.ts";
import { unavailable } from "../proto/errors.ts";
import { decodeBase64Url } from "../proto/keys.ts";
import { parseHostPort } from "../proto/host_port.ts";
import { describeNetError } from "../proto/net_error.ts";

/** How long the agent waits for the client side to arrive. */
const PAIR_WAIT_MS = 20_000;

/** Where and how to dial the data port (from WELCOME). */
export interface DataTarget {
  addr: string;
  tls: boolean;
  caCert?: string;
}

/** Dial the data port and present the ticket; resolves once paired. */
export async function dialData(target: DataTarget, ticket: string): Promise<Deno.Conn> {
  const { hostname, port } = parseHostPort(target.addr, { what: "data address" });
  let conn: Deno.Conn;
  try {
    conn = target.tls
      ? await Deno.connectTls({
        hostname,
        port,
        caCerts: target.caCert ? [target.caCert] : undefined,
      })
      : await Deno.connect({ hostname, port });
  } catch (err) {
    throw unavailable(
      `Cannot reach the gateway's data port ${target.addr}: ${describeNetError(err)}`,
      {
        cause: err,
      },
    );
  }
  try {
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    await conn.write(encodeHeader(DataSide.AGENT, decodeBase64Url(ticket)));
    const status = await readStatus(conn, PAIR_WAIT_MS);
    if (!status.ok) throw unavailable(`The gateway refused the data connection: ${status.message}`);
    return conn;
  } catch (err) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    throw err;
  }
}

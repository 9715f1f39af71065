/**
 * The client's side of a session: ask the gateway to open it (HTTP API), then
 * dial the data port with the ticket and wait until the agent's side is
 * paired. A refusal carries the gateway's reason (unknown connection, agent
 * offline, resource unreachable...), which becomes the one-line error.
 *
 * @module
 */
import { DataSide, encodeHeader, readStatus } from "../proto/data_header.ts";
import { HoopError, unavailable } from "../proto/errors.ts";
import { parseHostPort } from "../proto/host_port.ts";
import { decodeBase64Url } from "../proto/keys.ts";
import { describeNetError } from "../proto/net_error.ts";
import type { ApiClient, CreateSessionResponse } from "./api_client.ts";

/** How long the client waits for the agent's side (the gateway gives up first). */
const PAIR_WAIT_MS = 20_000;

/** What to open. */
export interface SessionSpec {
  connection: string;
  verb: "connect" | "exec" | "console";
  cols?: number;
  rows?: number;
}

/** An open, paired data connection. */
export interface OpenedSession {
  sessionId: string;
  conn: Deno.Conn;
}

/** Open a session and return its paired data connection. */
export async function openSession(
  api: ApiClient,
  spec: SessionSpec,
  opts: { caCert?: string } = {},
): Promise<OpenedSession> {
  const s = await api.post<CreateSessionResponse>("/api/sessions", spec);
  const { hostname, port } = parseHostPort(s.data_addr, { what: "data address" });
  let conn: Deno.Conn;
  try {
    conn = s.data_tls
      ? await Deno.connectTls({ hostname, port, caCerts: opts.caCert ? [opts.caCert] : undefined })
      : await Deno.connect({ hostname, port });
  } catch (err) {
    throw unavailable(
      `Cannot reach the gateway's data port ${s.data_addr}: ${describeNetError(err)}`,
      { cause: err, hint: "set HOOP_DATA_URL on the gateway to an address clients can reach" },
    );
  }
  try {
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    await conn.write(encodeHeader(DataSide.CLIENT, decodeBase64Url(s.ticket)));
    const status = await readStatus(conn, PAIR_WAIT_MS);
    if (!status.ok) throw unavailable(status.message);
    return { sessionId: s.session_id, conn };
  } catch (err) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    if (err instanceof HoopError && err.code === "unavailable") throw err;
    throw unavailable(
      `Cannot open a session on connection "${spec.connection}": ${(err as Error).message}`,
      { cause: err },
    );
  }
}

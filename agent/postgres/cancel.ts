/**
 * The cancel path: a client's `CancelRequest` names a backend by the pid and
 * secret the real server gave it (the agent's front end passes
 * `BackendKeyData` through unchanged), so the agent only forwards the packet
 * on a connection of its own.
 *
 * @module
 */
import { closeQuietly, writeAll } from "../../proto/bytes.ts";
import type { Logger } from "../../proto/log.ts";
import { encodeCancel } from "../../proto/pgwire/mod.ts";
import type { PostgresUri } from "../../proto/postgres_uri.ts";
import { serverAddr } from "./connect_error.ts";
import { dial } from "./transport.ts";

/** How long a forwarded cancel waits for the server to close its connection. */
export const CANCEL_WAIT_MS = 5_000;

/** A client's cancel request: the backend's pid and secret key. */
export interface CancelKey {
  pid: number;
  secret: Uint8Array;
}

/**
 * Send a client's cancel request to the server of `cfg` on a new connection,
 * unchanged, and wait (at most {@linkcode CANCEL_WAIT_MS}) for the server to
 * close it, as libpq does.
 */
export async function forwardCancel(cfg: PostgresUri, key: CancelKey, log: Logger): Promise<void> {
  // Cancel requests are never encrypted by PostgreSQL 15's libpq; servers accept them in the clear.
  const conn = await dial(cfg, AbortSignal.timeout(cfg.connectTimeoutMs));
  try {
    await writeAll(conn, encodeCancel(key.pid, key.secret));
    log.debug("postgres cancel request forwarded", { server: serverAddr(cfg), pid: key.pid });
    // libpq waits for the server to close the cancel connection (the request is then
    // processed); holding the client until then keeps that meaning, within a bound.
    const timer = setTimeout(() => closeQuietly(conn), CANCEL_WAIT_MS);
    try {
      await conn.read(new Uint8Array(1));
    } catch {
      // Closed by the timer or reset by the server: either way, done.
    } finally {
      clearTimeout(timer);
    }
  } finally {
    closeQuietly(conn);
  }
}

/**
 * Sessions the gateway opens for the web console: the gateway is the client.
 * It asks its own broker for a session and dials its own data port with the
 * ticket through `proto/data_dial.ts`, exactly as `hoop exec` and
 * `hoop connect` do, so the relay, the recording and every limit on the data
 * path are the ones the CLI meets.
 *
 * @module
 */
import { closeQuietly } from "../../proto/bytes.ts";
import { DataSide } from "../../proto/data_header.ts";
import { DataRefusedError, dialDataPort } from "../../proto/data_dial.ts";
import { HoopError, notFound } from "../../proto/errors.ts";
import type { SessionBroker } from "../broker/mod.ts";
import type { Connection, SessionVerb, Store, Token, User } from "../store/store.ts";

/** How long the gateway waits for the agent's side to pair with its own data connection. */
export const OWN_SESSION_PAIR_WAIT_MS = 20_000;

/** What opening an own session needs from the gateway. */
export interface OwnSessionDeps {
  store: Store;
  broker: SessionBroker;
  /** `host:port` of the data port (as clients dial it). */
  dataAddr: string;
  dataTls: boolean;
  /** PEM to trust for the data port's TLS (the gateway's own certificate). */
  dataCaCert?: string;
}

/** An open session's id and the gateway's client end of it (console frames or pgwire). */
export interface OwnSession {
  sessionId: string;
  conn: Deno.Conn;
  /** Cut the session with `reason` recorded as why it ended. */
  end(reason: string): void;
}

/**
 * Tie `session` to `signal`: an abort ends it with the signal's reason as the
 * recorded cause. The returned function undoes that and closes the
 * session's connection (the run is over either way).
 */
export function endOnAbort(session: OwnSession, signal: AbortSignal): () => void {
  const onAbort = () => {
    session.end(String(signal.reason));
    closeQuietly(session.conn);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  return () => {
    signal.removeEventListener("abort", onAbort);
    closeQuietly(session.conn);
  };
}

/**
 * Open a `verb` session on `connection` for `user` (access already checked)
 * and dial the data port. Throws `unavailable` when the agent is offline or
 * the data port cannot be reached, as the CLI would see it.
 */
export async function openOwnSession(
  deps: OwnSessionDeps,
  req: {
    user: User;
    token?: Pick<Token, "id" | "tokenHash">;
    connection: Connection;
    verb: SessionVerb;
    cols?: number;
    rows?: number;
  },
): Promise<OwnSession> {
  const agent = await deps.store.getAgentById(req.connection.agentId);
  if (!agent) throw notFound(`Connection "${req.connection.name}" has no agent`);
  const opened = await deps.broker.open({ ...req, agent });
  let conn: Deno.Conn;
  try {
    conn = await dialDataPort(
      { addr: deps.dataAddr, tls: deps.dataTls, caCert: deps.dataCaCert },
      DataSide.CLIENT,
      opened.ticket,
      { pairWaitMs: OWN_SESSION_PAIR_WAIT_MS },
    );
  } catch (err) {
    deps.broker.endSession(opened.sessionId, "the gateway could not reach its own data port");
    if (!(err instanceof HoopError) || err instanceof DataRefusedError) throw err;
    // The gateway trusts its --tls-cert file (plus the system roots) for this dial.
    const hint = deps.dataTls && /certificate|issuer/i.test(err.message)
      ? "give --tls-cert the full chain (the certificate, then its CA), so the gateway can verify its own data port"
      : "set HOOP_DATA_URL to an address the gateway itself can reach too";
    throw new HoopError(err.code, err.message, { cause: err, hint });
  }
  return {
    sessionId: opened.sessionId,
    conn,
    end: (reason) => deps.broker.endSession(opened.sessionId, reason),
  };
}

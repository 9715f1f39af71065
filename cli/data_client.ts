/**
 * The client's side of a session: ask the gateway to open it (HTTP API), then
 * dial the data port with the ticket and wait until the agent's side is
 * paired. A refusal carries the gateway's reason (unknown connection, agent
 * offline, resource unreachable...), which becomes the one-line error.
 *
 * @module
 */
import { DataRefusedError, type DataTarget, dialDataPort } from "../proto/data_dial.ts";
import { DataSide } from "../proto/data_header.ts";
import { HoopError } from "../proto/errors.ts";
import { log } from "../proto/log.ts";
import { WarmPool } from "../proto/warm_pool.ts";
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

/**
 * `hoop connect`'s spare: one data connection parked ahead under the user's
 * warm key (from the last session's answer), so the next local client's
 * session skips TCP and TLS set-up. It follows demand like an agent's pool
 * (none after a quiet spell) and is replaced when the gateway's address or
 * the key changes.
 */
export class SpareConnection {
  #pool?: WarmPool;
  #addr = "";

  /** A parked connection for this session's `target`, or `undefined`; keeps one ready. */
  take(target: DataTarget, warmKey: string | undefined): Deno.Conn | undefined {
    if (!warmKey) return undefined;
    const addr = `${target.tls ? "tls" : "tcp"}://${target.addr}`;
    if (!this.#pool || this.#pool.key !== warmKey || this.#addr !== addr) {
      this.#pool?.close();
      this.#pool = new WarmPool(target, warmKey, log, { max: 1 });
      this.#addr = addr;
    }
    return this.#pool.take();
  }

  close(): void {
    this.#pool?.close();
    this.#pool = undefined;
  }
}

/** Open a session and return its paired data connection (on `spare`'s when it has one). */
export async function openSession(
  api: ApiClient,
  spec: SessionSpec,
  opts: { caCert?: string; spare?: SpareConnection } = {},
): Promise<OpenedSession> {
  const s = await api.post<CreateSessionResponse>("/api/sessions", spec);
  const target = { addr: s.data_addr, tls: s.data_tls, caCert: opts.caCert };
  try {
    const conn = await dialDataPort(target, DataSide.CLIENT, s.ticket, {
      pairWaitMs: PAIR_WAIT_MS,
      warm: opts.spare?.take(target, s.warm_key),
    });
    return { sessionId: s.session_id, conn };
  } catch (err) {
    if (err instanceof DataRefusedError) throw err;
    if (err instanceof HoopError) {
      throw new HoopError(err.code, err.message, {
        cause: err,
        hint: "set HOOP_DATA_URL on the gateway to an address clients can reach",
      });
    }
    throw err;
  }
}

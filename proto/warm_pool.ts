/**
 * Warm data connections, the same for agents and `hoop connect`: a few
 * connections to the gateway's data port dialed ahead of demand, TLS already
 * done, parked under a warm key (the agent's from WELCOME, the user's from
 * `POST /api/sessions`; see gateway/warm_parking.ts). A session takes one and
 * sends its ticket at once instead of paying TCP and TLS set-up on the hot
 * path.
 *
 * The pool follows demand: as many as the sessions opened in the last
 * {@linkcode WARM_DEMAND_WINDOW_MS} (at least one while sessions keep coming,
 * at most `max`: {@linkcode MAX_WARM_DATA_CONNS} for agents, one spare for
 * `hoop connect`), none after
 * {@linkcode WARM_IDLE_STOP_MS} without a session, and each replaced before
 * the gateway's idle limit.
 *
 * @module
 */
import { closeQuietly } from "./bytes.ts";
import { type DataTarget, parkWarm } from "./data_dial.ts";
import type { Logger } from "./log.ts";

/** Most warm connections an agent keeps parked (a `hoop connect` keeps one). */
export const MAX_WARM_DATA_CONNS = 4;

/** A parked connection older than this is replaced (the gateway closes them at 60 s). */
export const WARM_MAX_AGE_MS = 45_000;

/** Demand is the number of sessions opened within this window. */
export const WARM_DEMAND_WINDOW_MS = 30_000;

/** With no session for this long, the pool holds nothing. */
export const WARM_IDLE_STOP_MS = 5 * 60_000;

/** After a failed park, no new one is tried for this long. */
const PARK_RETRY_MS = 5_000;

/** How long the gateway may take to park a connection. */
const PARK_WAIT_MS = 10_000;

/** How often ages and demand are looked at. */
const TICK_MS = 5_000;

interface Parked {
  conn: Deno.Conn;
  since: number;
}

/** One holder's warm connections (an agent's control stream, a `hoop connect`). */
export class WarmPool {
  #target: DataTarget;
  #key: string;
  #log: Logger;
  #max: number;
  #idle: Parked[] = [];
  #dialing = 0;
  #opens: number[] = [];
  #lastOpen = 0;
  #failedAt = 0;
  #closed = false;
  #timer: ReturnType<typeof setInterval>;

  constructor(
    target: DataTarget,
    warmKey: string,
    log: Logger,
    opts: { max?: number } = {},
  ) {
    this.#target = target;
    this.#key = warmKey;
    this.#log = log;
    this.#max = opts.max ?? MAX_WARM_DATA_CONNS;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /** Connections parked now (for tests). */
  get size(): number {
    return this.#idle.length;
  }

  /** A parked connection for a new session, or `undefined`; counts the demand either way. */
  take(): Deno.Conn | undefined {
    const now = Date.now();
    this.#lastOpen = now;
    this.#opens.push(now);
    let taken: Parked | undefined;
    while ((taken = this.#idle.pop())) {
      if (now - taken.since < WARM_MAX_AGE_MS) break;
      closeQuietly(taken.conn);
    }
    this.#refill();
    return taken?.conn;
  }

  /** The key this pool parks under. */
  get key(): string {
    return this.#key;
  }

  /** Close everything (the holder is done; an agent's key is revoked with its stream anyway). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const p of this.#idle) closeQuietly(p.conn);
    this.#idle = [];
  }

  #desired(now: number): number {
    if (!this.#lastOpen || now - this.#lastOpen > WARM_IDLE_STOP_MS) return 0;
    while (this.#opens.length && now - this.#opens[0] > WARM_DEMAND_WINDOW_MS) this.#opens.shift();
    return Math.min(this.#max, Math.max(1, this.#opens.length));
  }

  #tick(): void {
    const now = Date.now();
    const keep: Parked[] = [];
    for (const p of this.#idle) {
      if (now - p.since >= WARM_MAX_AGE_MS) closeQuietly(p.conn);
      else keep.push(p);
    }
    const desired = this.#desired(now);
    // Oldest go first when demand falls.
    while (keep.length > desired) closeQuietly(keep.shift()!.conn);
    this.#idle = keep;
    this.#refill();
  }

  #refill(): void {
    const now = Date.now();
    if (this.#closed || now - this.#failedAt < PARK_RETRY_MS) return;
    while (this.#idle.length + this.#dialing < this.#desired(now)) {
      this.#dialing++;
      parkWarm(this.#target, this.#key, { waitMs: PARK_WAIT_MS }).then(
        (conn) => {
          this.#dialing--;
          if (this.#closed || this.#idle.length >= this.#desired(Date.now())) closeQuietly(conn);
          else this.#idle.push({ conn, since: Date.now() });
        },
        (err) => {
          this.#dialing--;
          this.#failedAt = Date.now();
          this.#log.debug("cannot park a warm data connection", { err });
        },
      );
    }
  }
}

/**
 * The listener's cancel keys. A client connected through the listener must
 * not learn the real backend's key (it names a process on a server the user
 * never dials), and the listener must be able to route a later
 * `CancelRequest`, which arrives on a new connection with no login, to the
 * session it belongs to. So each session gets a key of the listener's own,
 * mapped here to the session's target and the real backend key.
 *
 * @module
 */
import { timingSafeEqual } from "../../proto/keys.ts";
import type { Agent, Connection, User } from "../store/store.ts";

/**
 * Sessions whose keys are held at once. Past it the oldest key is forgotten:
 * that session's cancel requests then cancel nothing, as for a stale key,
 * which is better than growing without bound.
 */
export const MAX_CANCEL_KEYS = 65_536;

/** Bytes of the secret in a protocol 3.0 `BackendKeyData` (what every client expects). */
export const CANCEL_SECRET_BYTES = 4;

/** A `BackendKeyData` key: process id and secret. */
export interface BackendKey {
  pid: number;
  secret: Uint8Array;
}

/** Where a session's cancel requests go: its target and the real backend's key. */
export interface CancelTarget {
  user: User;
  connection: Connection;
  agent: Agent;
  backend: BackendKey;
}

/** The listener's keys and the sessions they cancel. */
export class CancelKeys {
  /** By the listener's pid; insertion order is age, for eviction. */
  #byPid = new Map<number, { secret: Uint8Array; target: CancelTarget }>();
  #max: number;

  constructor(max = MAX_CANCEL_KEYS) {
    this.#max = max;
  }

  /** Keys held now. */
  get size(): number {
    return this.#byPid.size;
  }

  /** A fresh key for `target`; it cancels until {@linkcode forget} is called with it. */
  issue(target: CancelTarget): BackendKey {
    let pid: number;
    do {
      // Positive like a real pid: some clients print it or treat it as signed.
      pid = crypto.getRandomValues(new Uint32Array(1))[0] & 0x7fffffff;
    } while (pid === 0 || this.#byPid.has(pid));
    const secret = crypto.getRandomValues(new Uint8Array(CANCEL_SECRET_BYTES));
    if (this.#byPid.size >= this.#max) {
      this.#byPid.delete(this.#byPid.keys().next().value!);
    }
    this.#byPid.set(pid, { secret, target });
    return { pid, secret };
  }

  /** The target of a client's key; `undefined` for a guessed, stale or forgotten one. */
  find(key: BackendKey): CancelTarget | undefined {
    const entry = this.#byPid.get(key.pid);
    // The pid is not secret (clients print it); only the secret is compared in constant time.
    if (!entry || !timingSafeEqual(entry.secret, key.secret)) return undefined;
    return entry.target;
  }

  /** Drop a key (its session ended). */
  forget(key: BackendKey): void {
    const entry = this.#byPid.get(key.pid);
    if (entry && timingSafeEqual(entry.secret, key.secret)) this.#byPid.delete(key.pid);
  }
}

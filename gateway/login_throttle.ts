/**
 * Slows password guessing on every door that takes a password (the API's
 * login, the PostgreSQL listener). Failures are counted per account and per
 * source address, separately: past a few free attempts each further failure
 * doubles the wait before the next try, up to a cap, and a try during the
 * wait is refused with `resource_exhausted` and a retry time (HTTP 429 with
 * `Retry-After`). A success clears the account's count, not the address's.
 * Someone guessing one account's password from one address cannot slow
 * another account's owner on another address.
 *
 * @module
 */
import { HoopError } from "../proto/errors.ts";

/** Failed logins an account may have before waits begin. */
export const FREE_LOGIN_FAILURES_PER_ACCOUNT = 5;
/** Failed logins a source address may have (across accounts) before waits begin. */
export const FREE_LOGIN_FAILURES_PER_ADDRESS = 20;
/** First wait after the free attempts; each further failure doubles it. */
export const LOGIN_BACKOFF_INITIAL_MS = 1_000;
/** Longest wait an account or address can be given. */
export const LOGIN_BACKOFF_MAX_MS = 5 * 60_000;
/** Counts of a key without a failure for this long are forgotten. */
export const LOGIN_FAILURE_MEMORY_MS = 15 * 60_000;
/** Keys tracked at most (oldest forgotten first), so a flood of names cannot grow memory. */
export const MAX_LOGIN_THROTTLE_KEYS = 100_000;

interface Entry {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
}

/** Counts failed logins and refuses tries while a wait is running. */
export class LoginThrottle {
  #entries = new Map<string, Entry>();
  #now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Throw `resource_exhausted` (with `retryAfterSeconds`) when `email` or
   * `address` must still wait; otherwise return.
   */
  check(email: string, address: string): void {
    const now = this.#now();
    const wait = Math.max(
      this.#waitLeft(accountKey(email), now),
      this.#waitLeft(addressKey(address), now),
    );
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new HoopError(
        "resource_exhausted",
        `Too many failed logins: try again in ${seconds} s`,
        { retryAfterSeconds: seconds },
      );
    }
  }

  /** Count a failed login of `email` from `address`. */
  failed(email: string, address: string): void {
    const now = this.#now();
    this.#fail(accountKey(email), FREE_LOGIN_FAILURES_PER_ACCOUNT, now);
    this.#fail(addressKey(address), FREE_LOGIN_FAILURES_PER_ADDRESS, now);
  }

  /** A successful login: the account starts afresh. */
  succeeded(email: string): void {
    this.#entries.delete(accountKey(email));
  }

  /** Check, try `attempt`, and count its outcome (`undefined` = wrong credentials). */
  async guard<T>(
    email: string,
    address: string,
    attempt: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    this.check(email, address);
    const result = await attempt();
    if (result === undefined) this.failed(email, address);
    else this.succeeded(email);
    return result;
  }

  #waitLeft(key: string, now: number): number {
    const e = this.#entries.get(key);
    if (!e) return 0;
    if (now - e.lastFailureAt > LOGIN_FAILURE_MEMORY_MS) {
      this.#entries.delete(key);
      return 0;
    }
    return Math.max(0, e.blockedUntil - now);
  }

  #fail(key: string, free: number, now: number): void {
    let e = this.#entries.get(key);
    if (e && now - e.lastFailureAt > LOGIN_FAILURE_MEMORY_MS) e = undefined;
    e ??= { failures: 0, lastFailureAt: now, blockedUntil: 0 };
    e.failures++;
    e.lastFailureAt = now;
    if (e.failures > free) {
      const wait = Math.min(
        LOGIN_BACKOFF_MAX_MS,
        LOGIN_BACKOFF_INITIAL_MS * 2 ** Math.min(30, e.failures - free - 1),
      );
      e.blockedUntil = now + wait;
    }
    // Re-insert so the map's order is "least recently failed first".
    this.#entries.delete(key);
    this.#entries.set(key, e);
    if (this.#entries.size > MAX_LOGIN_THROTTLE_KEYS) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }
}

function accountKey(email: string): string {
  return "account:" + email.trim().toLowerCase();
}

function addressKey(address: string): string {
  return "address:" + address;
}

/**
 * Logins between "go to the provider" and their end: the PKCE verifier,
 * nonce and where the result goes, keyed by the `state` sent to the provider.
 * Each is used once (a replayed callback finds nothing) and expires after
 * {@linkcode OIDC_LOGIN_TTL_MS}; at most {@linkcode MAX_PENDING_OIDC_LOGINS}
 * wait at once, past which new logins are refused.
 *
 * @module
 */
import { resourceExhausted } from "../../proto/errors.ts";

/** How long a login may take from the redirect to the provider to its end. */
export const OIDC_LOGIN_TTL_MS = 10 * 60_000;

/** Logins waiting at once; the next is refused with 413 until some end or expire. */
export const MAX_PENDING_OIDC_LOGINS = 1_024;

/** Where a finished login goes. */
export type LoginTarget =
  | { kind: "web" }
  | { kind: "cli"; redirect: string; cliState: string }
  | { kind: "device"; loginId: string };

/** One login on its way. */
export interface PendingLogin {
  state: string;
  nonce: string;
  verifier: string;
  target: LoginTarget;
  expiresAt: number;
}

/** Logins keyed by state. */
export class PendingLogins {
  #byState = new Map<string, PendingLogin>();

  add(login: Omit<PendingLogin, "expiresAt">): PendingLogin {
    this.#sweep();
    if (this.#byState.size >= MAX_PENDING_OIDC_LOGINS) {
      throw resourceExhausted(
        `Cannot start a single sign-on: ${MAX_PENDING_OIDC_LOGINS} logins are already waiting`,
        { hint: "try again in a few minutes" },
      );
    }
    const entry = { ...login, expiresAt: Date.now() + OIDC_LOGIN_TTL_MS };
    this.#byState.set(login.state, entry);
    return entry;
  }

  /** Take (and forget) the login of `state`; `undefined` when unknown, used or expired. */
  take(state: string): PendingLogin | undefined {
    const entry = this.#byState.get(state);
    this.#byState.delete(state);
    if (!entry || entry.expiresAt < Date.now()) return undefined;
    return entry;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [k, v] of this.#byState) if (v.expiresAt < now) this.#byState.delete(k);
  }
}

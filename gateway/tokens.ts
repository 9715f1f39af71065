/**
 * Issuing and revoking hoop tokens: the one place a login (password, console,
 * single sign-on) turns into a bearer token, of which only the hash is
 * stored, and the one place a token stops working, sessions included.
 *
 * @module
 */
import { generateToken, sha256Hex } from "../proto/keys.ts";
import { type Store, StoreNotFoundError } from "./store/store.ts";

/** What can end the sessions a token opened. */
export interface SessionEnder {
  endTokenSessions(tokenId: string, reason: string): void;
}

/** A token just issued: the secret (shown once) and its record's id and expiry. */
export interface IssuedToken {
  token: string;
  id: string;
  expiresAt: Date;
}

/** Issue a token for `userId` valid for `ttlMs`. */
export async function issueToken(
  store: Store,
  userId: string,
  ttlMs: number,
): Promise<IssuedToken> {
  const token = generateToken();
  const id = crypto.randomUUID();
  const now = Date.now();
  const expiresAt = new Date(now + ttlMs);
  await store.createToken({
    id,
    userId,
    tokenHash: await sha256Hex(token),
    createdAt: new Date(now).toISOString(),
    expiresAt: expiresAt.toISOString(),
    revokedAt: null,
  });
  return { token, id, expiresAt };
}

/**
 * Revoke token `id` and end the sessions opened with it, recording `reason`.
 * A token already gone (its user deleted meanwhile) counts as revoked.
 */
export async function revokeToken(
  store: Store,
  sessions: SessionEnder,
  id: string,
  reason: string,
): Promise<void> {
  try {
    await store.revokeToken(id, new Date().toISOString());
  } catch (err) {
    if (!(err instanceof StoreNotFoundError)) throw err;
  }
  sessions.endTokenSessions(id, reason);
}

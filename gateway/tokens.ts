/**
 * Issuing hoop tokens: the one place a login (password, console, single
 * sign-on) turns into a bearer token, of which only the hash is stored.
 *
 * @module
 */
import { generateToken, sha256Hex } from "../proto/keys.ts";
import type { Store } from "./store/store.ts";

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

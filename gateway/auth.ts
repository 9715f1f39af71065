/**
 * Who is calling: bearer tokens (API, PostgreSQL listener) and account
 * passwords. Tokens are stored as SHA-256 hashes and looked up by hash.
 *
 * @module
 */
import { unauthenticated } from "../proto/errors.ts";
import { sha256Hex } from "../proto/keys.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import type { Store, Token, User } from "./store/store.ts";

const LOGIN_HINT = 'run "hoop login --email EMAIL"';

/** The user and token behind a bearer token; throws `unauthenticated` with the reason. */
export async function authenticateToken(
  store: Store,
  token: string,
): Promise<{ user: User; token: Token }> {
  const found = await store.getTokenByHash(await sha256Hex(token));
  if (!found) throw unauthenticated("The token is not valid", { hint: LOGIN_HINT });
  if (found.revokedAt) throw unauthenticated("The token was revoked", { hint: LOGIN_HINT });
  if (Date.parse(found.expiresAt) <= Date.now()) {
    throw unauthenticated("The token has expired", { hint: LOGIN_HINT });
  }
  const user = await store.getUserById(found.userId);
  if (!user) throw unauthenticated("The token's user no longer exists", { hint: LOGIN_HINT });
  return { user, token: found };
}

/** A valid hash of a random password, verified against for unknown users. */
let dummyHash: Promise<string> | undefined;

/**
 * The user with that email and password, or `undefined`. Unknown emails cost
 * the same time as wrong passwords, so timing does not reveal accounts.
 */
export async function authenticatePassword(
  store: Store,
  email: string,
  password: string,
): Promise<User | undefined> {
  const user = await store.getUserByEmail(email);
  dummyHash ??= hashPassword(crypto.randomUUID());
  const ok = await verifyPassword(password, user?.passwordHash ?? await dummyHash);
  return user && ok ? user : undefined;
}

/** True when the user may use a connection: admins always, users through a shared group. */
export function canUse(user: User, conn: { groups: string[] }): boolean {
  if (user.role === "admin") return true;
  return conn.groups.some((g) => user.groups.includes(g));
}

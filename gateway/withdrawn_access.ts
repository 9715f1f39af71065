/**
 * Access changes reach sessions already open. When an admin changes a
 * connection's groups or deletes it, or a single sign-on (login or recheck)
 * changes a user's role or groups, the open sessions that the new state
 * would refuse end at once, with the reason recorded; the others run on.
 * The rule is the one that opens sessions ({@linkcode canUse}), applied to
 * the records as they are after the change.
 *
 * @module
 */
import { canUse } from "./auth.ts";
import type { OpenSessionView } from "./broker/mod.ts";
import type { Connection, Store, User } from "./store/store.ts";

/** What a check of one session needs to know of it. */
type SessionAccess = Pick<OpenSessionView, "userId" | "connectionId" | "connectionName">;

/**
 * Why `user` may no longer hold a session on the connection, given the
 * records as they are now (`undefined` when missing), or `undefined` when
 * the session may go on.
 */
function withdrawnReason(
  s: SessionAccess,
  user: User | undefined,
  conn: Connection | undefined,
): string | undefined {
  if (!conn || conn.id !== s.connectionId) return `connection "${s.connectionName}" was deleted`;
  if (!user) return "its user was deleted";
  if (canUse(user, conn)) return undefined;
  return `access withdrawn: ${user.email} may no longer use connection "${conn.name}"`;
}

/**
 * Check a session just registered against the records as they are now: the
 * user, the connection and, when it was opened with one, the token (by its
 * hash). The checks that let it open read those records before it was
 * registered, and a change landing in between was reviewed without it; once
 * registered, every later change's review sees it, so this check closes the
 * window. Resolves with the reason it may not open, or `undefined`.
 */
export async function accessStillHeld(
  store: Store,
  s: SessionAccess,
  tokenHash?: string,
): Promise<string | undefined> {
  const [user, conn, token] = await Promise.all([
    store.getUserById(s.userId),
    store.getConnectionByName(s.connectionName),
    tokenHash === undefined ? undefined : store.getTokenByHash(tokenHash),
  ]);
  if (tokenHash !== undefined && (!token || token.revokedAt)) return "its token was revoked";
  return withdrawnReason(s, user, conn);
}

/** What a review needs of the broker: the open sessions, and ending one. */
export interface SessionRoster {
  openSessions(): OpenSessionView[];
  endSession(sessionId: string, reason: string): void;
}

/** Which open sessions an access change may concern. */
export type ReviewScope = { userId: string } | { connectionName: string };

/**
 * End the open sessions in `scope` that their user may no longer use: the
 * connection was deleted (or replaced by another of the same name), the
 * user was deleted, or no group of the user's meets the connection's.
 * Returns how many were ended. A store failure rejects with the store's
 * error (the change itself is already made); the sessions not yet reviewed
 * run on.
 */
export async function endWithdrawnSessions(
  store: Store,
  roster: SessionRoster,
  scope: ReviewScope,
): Promise<number> {
  const users = new Map<string, Promise<User | undefined>>();
  const conns = new Map<string, Promise<Connection | undefined>>();
  let ended = 0;
  for (const s of roster.openSessions()) {
    if ("userId" in scope ? s.userId !== scope.userId : s.connectionName !== scope.connectionName) {
      continue;
    }
    if (!users.has(s.userId)) users.set(s.userId, store.getUserById(s.userId));
    if (!conns.has(s.connectionName)) {
      conns.set(s.connectionName, store.getConnectionByName(s.connectionName));
    }
    const [user, conn] = await Promise.all([users.get(s.userId), conns.get(s.connectionName)]);
    const reason = withdrawnReason(s, user, conn);
    if (reason === undefined) continue;
    roster.endSession(s.id, reason);
    ended++;
  }
  return ended;
}

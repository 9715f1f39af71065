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
    const reason = !conn || conn.id !== s.connectionId
      ? `connection "${s.connectionName}" was deleted`
      : !user
      ? "its user was deleted"
      : canUse(user, conn)
      ? undefined
      : `access withdrawn: ${user.email} may no longer use connection "${conn.name}"`;
    if (reason === undefined) continue;
    roster.endSession(s.id, reason);
    ended++;
  }
  return ended;
}

/**
 * Users from the directory: a first single sign-on creates the hoop user,
 * later ones bring role and groups up to date with the provider's claims.
 *
 * @module
 */
import { hashPassword } from "../password.ts";
import { failedPrecondition } from "../../proto/errors.ts";
import { type Role, type Store, StoreConflictError, type User } from "../store/store.ts";
import { endWithdrawnSessions, type SessionRoster } from "../withdrawn_access.ts";
import type { DirectoryIdentity } from "./provider.ts";
import type { OidcSettings } from "./settings.ts";

/** The role the directory's groups give. */
export function roleFor(groups: string[], settings: OidcSettings): Role {
  return groups.some((g) => settings.adminGroups.includes(g)) ? "admin" : "user";
}

/**
 * Bring a directory user's role and groups to what the provider's claims
 * say, and end their open sessions on connections the new ones do not
 * reach; `user` unchanged when they already match.
 */
export async function applyDirectoryAccess(
  store: Store,
  sessions: SessionRoster,
  user: User,
  groupsClaim: string[],
  settings: OidcSettings,
): Promise<User> {
  const role = roleFor(groupsClaim, settings);
  const groups = [...new Set(groupsClaim)].sort();
  const same = user.role === role && user.groups.join("\n") === groups.join("\n");
  if (same) return user;
  const now = await store.updateUserAccess(user.id, { role, groups });
  await endWithdrawnSessions(store, sessions, { userId: user.id });
  return now;
}

/**
 * Create or update the user `who` names; returns them as they are now. A
 * user is found by the provider's (issuer, subject), never by email alone:
 * a local account whose email the directory also lists is not taken over.
 */
export async function upsertDirectoryUser(
  store: Store,
  sessions: SessionRoster,
  who: DirectoryIdentity,
  settings: OidcSettings,
): Promise<{ user: User; created: boolean }> {
  const role = roleFor(who.groups, settings);
  const groups = [...new Set(who.groups)].sort();
  const key = { issuer: who.issuer, subject: who.subject };
  const known = await store.getUserByIdentity(key);
  if (known) {
    return {
      user: await applyDirectoryAccess(store, sessions, known, who.groups, settings),
      created: false,
    };
  }
  if (await store.getUserByEmail(who.email)) throw localAccountExists(who.email);
  try {
    const user = await store.createDirectoryUser({
      id: crypto.randomUUID(),
      email: who.email,
      role,
      groups,
      // A password nobody knows: directory users sign in through the provider, and a
      // password attempt on their email costs the same time as on any other.
      passwordHash: await hashPassword(crypto.randomUUID() + crypto.randomUUID()),
      createdAt: new Date().toISOString(),
    }, key);
    return { user, created: true };
  } catch (err) {
    // Two first logins of the same person at once: the other one created them.
    if (!(err instanceof StoreConflictError)) throw err;
    const raced = await store.getUserByIdentity(key);
    if (!raced) throw localAccountExists(who.email);
    return { user: raced, created: false };
  }
}

function localAccountExists(email: string) {
  return failedPrecondition(
    `Cannot sign in ${email} with single sign-on: a local account with that email exists on this gateway`,
    {
      hint:
        `log in with its password, or an admin deletes it ("hoop admin delete user ${email}") so that single sign-on creates it from the directory`,
    },
  );
}

/**
 * Users from the directory: a first single sign-on creates the hoop user,
 * later ones bring role and groups up to date with the provider's claims.
 *
 * @module
 */
import { hashPassword } from "../password.ts";
import type { Role, Store, User } from "../store/store.ts";
import type { DirectoryIdentity } from "./provider.ts";
import type { OidcSettings } from "./settings.ts";

/** The role the directory's groups give. */
export function roleFor(groups: string[], settings: OidcSettings): Role {
  return groups.some((g) => settings.adminGroups.includes(g)) ? "admin" : "user";
}

/** Create or update the user `who` names; returns them as they are now. */
export async function upsertDirectoryUser(
  store: Store,
  who: DirectoryIdentity,
  settings: OidcSettings,
): Promise<{ user: User; created: boolean }> {
  const role = roleFor(who.groups, settings);
  const groups = [...new Set(who.groups)].sort();
  const known = await store.getUserByEmail(who.email);
  if (known) {
    const same = known.role === role && known.groups.join("\n") === groups.join("\n");
    return {
      user: same ? known : await store.updateUserAccess(known.id, { role, groups }),
      created: false,
    };
  }
  const user = await store.createUser({
    id: crypto.randomUUID(),
    email: who.email,
    role,
    groups,
    // A password nobody knows: directory users sign in through the provider, and a
    // password attempt on their email costs the same time as on any other.
    passwordHash: await hashPassword(crypto.randomUUID() + crypto.randomUUID()),
    createdAt: new Date().toISOString(),
  });
  return { user, created: true };
}

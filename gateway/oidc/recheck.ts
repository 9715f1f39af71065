/**
 * Directory changes reach hoop tokens already issued: every
 * {@linkcode OIDC_RECHECK_INTERVAL_MS} the gateway refreshes each single
 * sign-on's grant at the provider. A refusal (user disabled or removed,
 * grant revoked) revokes the hoop token that login issued and ends the
 * sessions opened with it; a refreshed ID
 * token brings role and groups up to date, and ends the user's sessions on
 * connections the new ones do not reach. A provider that cannot be
 * reached revokes nothing (an outage must not log everybody out) and ends
 * the sweep; its grants are tried again at the next one.
 *
 * @module
 */
import type { Logger } from "../../proto/log.ts";
import type { Store } from "../store/store.ts";
import { revokeToken, type SessionEnder } from "../tokens.ts";
import type { SessionRoster } from "../withdrawn_access.ts";
import { applyDirectoryAccess } from "./directory.ts";
import type { OidcProvider } from "./provider.ts";

/** How long a single sign-on stands before the gateway asks the provider again. */
export const OIDC_RECHECK_INTERVAL_MS = 15 * 60_000;

/** Sweeps run at most this far apart (sooner when the recheck interval is shorter). */
export const OIDC_RECHECK_SWEEP_MS = 60_000;

/** Grants rechecked per sweep; the rest wait for the next one (oldest check first). */
export const MAX_OIDC_RECHECKS_PER_SWEEP = 200;

/** What one sweep did, for logs and tests. */
export interface RecheckCounts {
  kept: number;
  revoked: number;
  unreachable: number;
}

/** Recheck the grants due now. Never throws: a failed recheck is logged and retried. */
export async function recheckDue(
  store: Store,
  provider: OidcProvider,
  log: Logger,
  intervalMs: number,
  sessions: SessionEnder & SessionRoster,
): Promise<RecheckCounts> {
  const counts: RecheckCounts = { kept: 0, revoked: 0, unreachable: 0 };
  const now = new Date();
  try {
    await store.pruneSsoGrants(now.toISOString());
    const due = await store.listSsoGrantsDue(
      new Date(now.getTime() - intervalMs).toISOString(),
      now.toISOString(),
      MAX_OIDC_RECHECKS_PER_SWEEP,
    );
    for (const grant of due) {
      let outcome;
      try {
        outcome = await provider.refresh(grant.refreshToken);
      } catch (err) {
        // The provider is down: the rest would fail the same way (each after a timeout).
        counts.unreachable++;
        log.warn("single sign-on recheck failed; access kept, retried at the next sweep", {
          error: err instanceof Error ? err.message : String(err),
        });
        break;
      }
      const checkedAt = new Date().toISOString();
      if (outcome.status === "refused") {
        await revokeToken(
          store,
          sessions,
          grant.tokenId,
          `single sign-on refused at recheck: ${outcome.reason}`,
        );
        counts.revoked++;
        log.info("single sign-on refused at recheck: token revoked", {
          user_id: grant.userId,
          reason: outcome.reason,
        });
        continue;
      }
      await store.putSsoGrant({ ...grant, refreshToken: outcome.refreshToken, checkedAt });
      counts.kept++;
      const who = outcome.identity;
      // Fresh claims apply only to the user this identity created.
      const user = who && await store.getUserByIdentity(who);
      if (who && user && user.id === grant.userId) {
        const now = await applyDirectoryAccess(
          store,
          sessions,
          user,
          who.groups,
          provider.settings,
        );
        if (now !== user) {
          log.info("single sign-on recheck updated role and groups", {
            user: now.email,
            role: now.role,
            groups: now.groups.join(","),
          });
        }
      }
    }
  } catch (err) {
    log.warn("single sign-on recheck sweep failed", {
      error: err instanceof Error ? err.message : String(err),
    });
  }
  return counts;
}

/** Sweep until `close()`; one sweep at a time. */
export function startRecheck(
  store: Store,
  provider: OidcProvider,
  log: Logger,
  sessions: SessionEnder & SessionRoster,
  intervalMs = OIDC_RECHECK_INTERVAL_MS,
): { close(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    // A sweep slower than the timer is not stacked up: the next tick finds it busy.
    running ??= recheckDue(store, provider, log, intervalMs, sessions).finally(
      () => (running = undefined),
    );
  }, Math.min(intervalMs, OIDC_RECHECK_SWEEP_MS));
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}

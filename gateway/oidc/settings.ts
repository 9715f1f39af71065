/**
 * What `hoop start gateway --oidc-*` configures: the provider, this
 * gateway's client at it, and how the directory's groups map to hoop.
 *
 * @module
 */

/** Which logins the gateway accepts (`--auth-methods`). */
export type AuthMethod = "password" | "oidc";

/** Single sign-on settings. */
export interface OidcSettings {
  /** The provider's issuer URL; discovery reads `<issuer>/.well-known/openid-configuration`. */
  issuer: URL;
  clientId: string;
  clientSecret: string;
  /** The ID token claim that lists the user's groups (default `groups`). */
  groupsClaim: string;
  /** Members of any of these groups are hoop admins; everyone else is a user. */
  adminGroups: string[];
  /** How often each login is rechecked at the provider (default `OIDC_RECHECK_INTERVAL_MS`). */
  recheckIntervalMs?: number;
  /** Where browsers reach this gateway's API (redirect URI base), no trailing slash. */
  publicUrl: string;
}

/** The redirect URI to register at the provider. */
export function callbackUrl(s: OidcSettings): string {
  return `${s.publicUrl}/api/oidc/callback`;
}

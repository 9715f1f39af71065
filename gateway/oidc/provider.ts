/**
 * The OpenID provider as this gateway's client sees it, through
 * `npm:openid-client` (certified; it checks the ID token's signature against
 * the provider's JWKS, refetched when a token names an unknown key and the
 * cached copy is at least 60 s old (the library's cooldown; at most 5 min in
 * any case, so a rotated key is picked up within a minute), and its
 * issuer, audience/azp, expiry and not-before with
 * {@linkcode OIDC_CLOCK_TOLERANCE_S} of skew, nonce, and algorithm: only the
 * client's registered one, RS256 unless configured, never `none`).
 *
 * Discovery runs at the first login, not at start-up, so a provider that is
 * down does not stop the gateway (password logins and sessions go on); a
 * failed discovery is retried at the next login.
 *
 * @module
 */
import * as oidc from "openid-client";
import { unauthenticated, unavailable } from "../../proto/errors.ts";
import { callbackUrl, type OidcSettings } from "./settings.ts";

/** Allowed clock skew, in seconds, on the ID token's `exp`, `nbf` and `iat`. */
export const OIDC_CLOCK_TOLERANCE_S = 30;

/** Scopes asked for: the ID token must carry the email and the groups claim. */
const SCOPES = "openid email profile groups";

/** What a redeemed login yields: who signed in, and a refresh token to recheck them later. */
export interface RedeemedLogin {
  identity: DirectoryIdentity;
  /** Absent when the provider issues none: the login is then checked again only at the next one. */
  refreshToken?: string;
}

/** The provider's answer to a refresh: still welcome (maybe with fresh claims), or refused. */
export type RefreshOutcome =
  | { status: "ok"; refreshToken: string; identity?: DirectoryIdentity }
  | { status: "refused"; reason: string };

/** The claims hoop uses from a verified ID token. */
export interface DirectoryIdentity {
  issuer: string;
  subject: string;
  email: string;
  groups: string[];
}

function isLoopback(url: URL): boolean {
  return ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
}

/**
 * The library's refusal, with the check and claim it names: its messages
 * alone are terse ("unexpected JWT claim value encountered"), the details
 * sit on the error's cause chain.
 */
function why(err: unknown): string {
  let code: string | undefined;
  let claim: string | undefined;
  const messages: string[] = [];
  let e = err as { message?: string; code?: string; cause?: unknown; claim?: string } | undefined;
  for (let depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    if (typeof e.message === "string" && !messages.includes(e.message)) messages.push(e.message);
    if (typeof e.code === "string" && /^OAUTH_/.test(e.code)) code ??= e.code;
    if (typeof e.claim === "string") claim ??= e.claim;
    e = e.cause as typeof e;
  }
  const what = claim ? `the ID token's "${claim}" claim is not what was expected: ` : "";
  return `${what}${messages.join(": ")}${code ? ` (${code})` : ""}`;
}

/**
 * True when the provider could not be reached or failed itself (network
 * error, 5xx), as opposed to answering with a refusal or a bad token.
 */
function providerDown(err: unknown): boolean {
  let e = err as { cause?: unknown; status?: unknown } | undefined;
  for (let depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    if (e instanceof TypeError) return true; // fetch: connection refused, reset, DNS
    if (e instanceof Response ? e.status >= 500 : typeof e.status === "number" && e.status >= 500) {
      return true;
    }
    e = e.cause as typeof e;
  }
  return false;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The gateway's client at one provider. */
export class OidcProvider {
  #settings: OidcSettings;
  #config?: Promise<oidc.Configuration>;

  constructor(settings: OidcSettings) {
    this.#settings = settings;
  }

  get settings(): OidcSettings {
    return this.#settings;
  }

  #discover(): Promise<oidc.Configuration> {
    const s = this.#settings;
    this.#config ??= oidc.discovery(
      s.issuer,
      s.clientId,
      { client_secret: s.clientSecret, [oidc.clockTolerance]: OIDC_CLOCK_TOLERANCE_S },
      undefined,
      // Plain HTTP only for a provider on this machine (tests, local development).
      {
        execute: isLoopback(s.issuer)
          ? [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks]
          : [oidc.enableNonRepudiationChecks],
      },
    ).catch((err) => {
      this.#config = undefined;
      throw unavailable(
        `Cannot reach the OpenID provider ${s.issuer.href}: ${message(err)}`,
        { cause: err, hint: "check --oidc-issuer and that the provider is up; try again" },
      );
    });
    return this.#config;
  }

  /** The provider's authorization URL for a login with these checks. */
  async authorizationUrl(login: { state: string; nonce: string; verifier: string }): Promise<URL> {
    const config = await this.#discover();
    // A refresh token lets the gateway ask again later whether the user may still sign
    // in; offline_access only where the provider lists it (some refuse unknown scopes).
    const offline = config.serverMetadata().scopes_supported?.includes("offline_access");
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: callbackUrl(this.#settings),
      scope: offline ? `${SCOPES} offline_access` : SCOPES,
      state: login.state,
      nonce: login.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(login.verifier),
      code_challenge_method: "S256",
    });
  }

  /**
   * Redeem the code on the callback URL, verify the ID token, and return who
   * signed in. Every refusal is `unauthenticated` naming what failed.
   */
  async redeem(
    callback: URL,
    login: { state: string; nonce: string; verifier: string },
  ): Promise<RedeemedLogin> {
    const config = await this.#discover();
    let claims: oidc.IDToken | undefined;
    let refreshToken: string | undefined;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: login.verifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
      refreshToken = tokens.refresh_token;
    } catch (err) {
      if (providerDown(err)) {
        throw unavailable(
          `Single sign-on failed: the OpenID provider ${this.#settings.issuer.href} did not answer the login: ${
            why(err)
          }`,
          { cause: err, hint: "check that the provider is up, then sign in again" },
        );
      }
      throw unauthenticated(
        `Single sign-on failed: the provider's answer was refused: ${why(err)}`,
        {
          cause: err,
          hint:
            "sign in again; if it keeps failing, ask an admin to check the provider's client settings",
        },
      );
    }
    if (!claims) throw unauthenticated("Single sign-on failed: the provider sent no ID token");
    return { identity: this.#identity(claims), refreshToken };
  }

  /**
   * Ask the provider whether a login still stands (a refresh token grant).
   * `refused` when the provider says no (user disabled or removed, grant
   * revoked); a provider that cannot be reached throws `unavailable`.
   */
  async refresh(refreshToken: string): Promise<RefreshOutcome> {
    const config = await this.#discover();
    try {
      const tokens = await oidc.refreshTokenGrant(config, refreshToken);
      const claims = tokens.claims();
      let identity: DirectoryIdentity | undefined;
      try {
        identity = claims && this.#identity(claims);
      } catch {
        // A refreshed ID token without usable claims still vouches for the login;
        // role and groups stay as the last login left them.
      }
      return {
        status: "ok",
        // Providers that rotate refresh tokens send a new one; the old one is then spent.
        refreshToken: tokens.refresh_token ?? refreshToken,
        identity,
      };
    } catch (err) {
      if (!providerDown(err) && err instanceof oidc.ResponseBodyError) {
        return { status: "refused", reason: `${err.error}: ${err.error_description ?? ""}` };
      }
      throw unavailable(`Cannot recheck a single sign-on at ${this.#settings.issuer.href}`, {
        cause: err,
        hint: why(err),
      });
    }
  }

  #identity(claims: oidc.IDToken): DirectoryIdentity {
    const email = typeof claims.email === "string" ? claims.email.trim().toLowerCase() : "";
    if (!email) {
      throw unauthenticated("Single sign-on failed: the ID token has no email claim", {
        hint: 'the provider must release the "email" scope to this client',
      });
    }
    if (claims.email_verified === false) {
      throw unauthenticated(`Single sign-on failed: the provider has not verified ${email}`, {
        hint: "verify the email address at the identity provider, then sign in again",
      });
    }
    const raw = claims[this.#settings.groupsClaim];
    const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === "string") : [];
    return { issuer: claims.iss, subject: claims.sub, email, groups };
  }
}

/**
 * The browser's credential: the `hoop_session` cookie carrying a hoop token,
 * and the CSRF token bound to it. A cookie is ambient (the browser sends it on
 * any request to the API, even one a foreign page started), so a request it
 * authenticates must prove it came from the console: methods other than GET
 * carry `X-Hoop-CSRF`, an HMAC of the token's id under a secret only this
 * gateway process holds, and an `Origin`, when present, must be the API's own.
 * Bearer tokens are not ambient and need none of this.
 *
 * @module
 */
import type { Context } from "hono";
import { encodeBase64Url } from "../../proto/base64.ts";
import { permissionDenied } from "../../proto/errors.ts";
import { timingSafeEqual } from "../../proto/keys.ts";
import type { ApiContext } from "./_context.ts";

/** The cookie holding the browser's hoop token. */
export const SESSION_COOKIE = "hoop_session";

/** The header a cookie-authenticated request other than GET carries its CSRF token in. */
export const CSRF_HEADER = "X-Hoop-CSRF";

/**
 * One random HMAC key per API context, i.e. per gateway process: it never
 * leaves memory, so a restart invalidates CSRF tokens (the console reads a
 * fresh one from `GET /api/web/session`) but never the cookies themselves.
 */
const csrfKeys = new WeakMap<ApiContext, Promise<CryptoKey>>();

function csrfKey(ctx: ApiContext): Promise<CryptoKey> {
  let key = csrfKeys.get(ctx);
  if (!key) {
    key = crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    csrfKeys.set(ctx, key);
  }
  return key;
}

/** The CSRF token of the hoop token with id `tokenId`: base64url HMAC-SHA256 of the id. */
export async function csrfTokenFor(ctx: ApiContext, tokenId: string): Promise<string> {
  const mac = await crypto.subtle.sign(
    "HMAC",
    await csrfKey(ctx),
    new TextEncoder().encode(tokenId),
  );
  return encodeBase64Url(new Uint8Array(mac));
}

/** The value of the session cookie on the request, if any. */
export function sessionCookieOf(c: Context): string | undefined {
  const header = c.req.header("cookie");
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return value === "" ? undefined : value;
    }
  }
  return undefined;
}

/**
 * The API's own origin as a browser names it. The HTTP server behind the
 * front door always sees plain HTTP, so the scheme comes from whether the
 * gateway serves TLS (the API and data ports share its certificate) and the
 * host from the `Host` header the browser sent.
 */
export function ownOrigin(c: Context, ctx: ApiContext): string {
  const host = c.req.header("host") ?? new URL(c.req.url).host;
  return `${ctx.dataTls ? "https" : "http"}://${host}`;
}

/** True when the request has no `Origin` header or names the API's own origin. */
export function originAllowed(c: Context, ctx: ApiContext): boolean {
  const origin = c.req.header("origin");
  return origin === undefined || origin === ownOrigin(c, ctx);
}

/** The refusal of a cookie request without the right CSRF token or from a foreign origin. */
export function csrfRefused(): Error {
  return permissionDenied("Missing or wrong CSRF token", { hint: "reload the page" });
}

/**
 * Throw {@linkcode csrfRefused} unless `supplied` is the CSRF token of the
 * token with id `tokenId` (compared in constant time) and the origin, when
 * present, is the API's own.
 */
export async function checkCsrf(
  c: Context,
  ctx: ApiContext,
  opts: { tokenId: string; supplied: string | undefined },
): Promise<void> {
  const wanted = await csrfTokenFor(ctx, opts.tokenId);
  if (!originAllowed(c, ctx) || !opts.supplied || !timingSafeEqual(opts.supplied, wanted)) {
    throw csrfRefused();
  }
}

/**
 * Who is calling: middleware that authenticates the bearer token (or the
 * console's session cookie, with its CSRF check: `_web_cookie.ts`) and puts
 * the user (and the token) on the Hono context, and the admin check on top of
 * it. Both run before a handler reads its body, so an anonymous caller learns
 * nothing from validation errors.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { permissionDenied, unauthenticated } from "../../proto/errors.ts";
import { authenticateToken } from "../auth.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { checkCsrf, CSRF_HEADER, sessionCookieOf } from "./_web_cookie.ts";

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * Middleware: the caller must present a valid token, as a bearer token or in
 * the session cookie; sets `user`, `token` and `via`. A cookie request other
 * than GET must also pass the CSRF check. The WebSocket terminal is a GET and
 * checks its `csrf` query parameter itself.
 */
export function requireUser(ctx: ApiContext): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const m = BEARER.exec(c.req.header("authorization") ?? "");
    const cookie = m ? undefined : sessionCookieOf(c);
    if (!m && !cookie) {
      throw unauthenticated("Not logged in", { hint: 'run "hoop login --email EMAIL"' });
    }
    const { user, token } = await authenticateToken(ctx.store, m ? m[1] : cookie!);
    if (!m && c.req.method !== "GET") {
      await checkCsrf(c, ctx, { tokenId: token.id, supplied: c.req.header(CSRF_HEADER) });
    }
    c.set("user", user);
    c.set("token", token);
    c.set("via", m ? "bearer" : "cookie");
    await next();
  };
}

/** Middleware: as {@linkcode requireUser}, and the caller must have the admin role. */
export function requireAdmin(ctx: ApiContext): MiddlewareHandler<ApiEnv> {
  const user = requireUser(ctx);
  return (c, next) =>
    user(c, async () => {
      if (c.get("user").role !== "admin") {
        throw permissionDenied(
          `Permission denied: ${c.req.method} ${new URL(c.req.url).pathname} needs the admin role`,
        );
      }
      await next();
    });
}

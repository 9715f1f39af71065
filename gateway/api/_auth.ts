/**
 * Who is calling: middleware that authenticates the bearer token and puts the
 * user (and the token) on the Hono context, and the admin check on top of it.
 * Both run before a handler reads its body, so an anonymous caller learns
 * nothing from validation errors.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { permissionDenied, unauthenticated } from "../../proto/errors.ts";
import { authenticateToken } from "../auth.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";

const BEARER = /^Bearer\s+(\S+)$/i;

/** Middleware: the caller must present a valid token; sets `user` and `token`. */
export function requireUser(ctx: ApiContext): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const m = BEARER.exec(c.req.header("authorization") ?? "");
    if (!m) {
      throw unauthenticated("Not logged in", { hint: 'run "hoop login --email EMAIL"' });
    }
    const { user, token } = await authenticateToken(ctx.store, m[1]);
    c.set("user", user);
    c.set("token", token);
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

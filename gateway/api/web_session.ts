/**
 * The console's sign-in: `POST /api/web/login` issues a hoop token like
 * `POST /api/login` but hands it over only as an HttpOnly, SameSite=Strict
 * cookie (Secure when the API serves TLS), with the CSRF token the page sends
 * back on state-changing requests; `GET /api/web/session` tells a reloaded
 * page who it is; `POST /api/web/logout` revokes the token and clears the
 * cookie. {@linkcode setSessionCookie} and {@linkcode csrfTokenFor} are the
 * pieces other sign-in paths (OIDC) reuse.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type * as wire from "../../proto/api_types.ts";
import { unauthenticated } from "../../proto/errors.ts";
import { authenticatePassword } from "../auth.ts";
import { requireUser } from "./_auth.ts";
import { readJsonBody, requiredString } from "./_body.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { issueToken, revokeToken } from "../tokens.ts";
import { assertPasswordLoginAllowed } from "./oidc.ts";
import { normalizeEmail } from "./_fields.ts";
import { userView } from "./_views.ts";
import { csrfRefused, csrfTokenFor, originAllowed, SESSION_COOKIE } from "./_web_cookie.ts";

export { csrfTokenFor } from "./_web_cookie.ts";

function cookieAttributes(ctx: ApiContext, maxAgeSeconds: number): string {
  return `HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}${
    ctx.dataTls ? "; Secure" : ""
  }`;
}

/** Put `token` in the session cookie until `expiresAt`. */
export function setSessionCookie(
  c: Context,
  ctx: ApiContext,
  token: string,
  expiresAt: Date,
): void {
  const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
  c.header("Set-Cookie", `${SESSION_COOKIE}=${token}; ${cookieAttributes(ctx, maxAge)}`, {
    append: true,
  });
}

/** Tell the browser to drop the session cookie. */
export function clearSessionCookie(c: Context, ctx: ApiContext): void {
  c.header("Set-Cookie", `${SESSION_COOKIE}=; ${cookieAttributes(ctx, 0)}`, { append: true });
}

/** `/web/login`, `/web/session` and `/web/logout`. */
export function webSessionRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const user = requireUser(ctx);

  app.post("/web/login", async (c) => {
    // A foreign page must not sign a browser in to an account of its choosing.
    if (!originAllowed(c, ctx)) throw csrfRefused();
    const body = await readJsonBody<wire.Credentials>(c.req.raw);
    const email = normalizeEmail(requiredString(body, "email"));
    const password = requiredString(body, "password");
    assertPasswordLoginAllowed(ctx, email);
    const peer = c.env?.peer?.hostname ?? "unknown";
    const found = await ctx.throttle.guard(
      email,
      peer,
      () => authenticatePassword(ctx.store, email, password),
    );
    if (!found) {
      throw unauthenticated(`Cannot log in as "${email}": wrong email or password`);
    }
    const issued = await issueToken(ctx.store, found.id, ctx.tokenTtlMs);
    ctx.log.info("user logged in to the console", { user: found.email });
    setSessionCookie(c, ctx, issued.token, issued.expiresAt);
    return c.json(
      {
        user: userView(found),
        csrf_token: await csrfTokenFor(ctx, issued.id),
        expires_at: issued.expiresAt.toISOString(),
      } satisfies wire.WebSessionResponse,
    );
  });

  app.get("/web/session", user, async (c) => {
    const token = c.get("token");
    return c.json(
      {
        user: userView(c.get("user")),
        csrf_token: await csrfTokenFor(ctx, token.id),
        expires_at: token.expiresAt,
      } satisfies wire.WebSessionResponse,
    );
  });

  app.post("/web/logout", user, async (c) => {
    await revokeToken(
      ctx.store,
      ctx.broker,
      c.get("token").id,
      "the token was revoked: its user signed out of the web console",
    );
    clearSessionCookie(c, ctx);
    return c.body(null, 204);
  });

  return app;
}

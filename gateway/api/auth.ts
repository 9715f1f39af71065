/**
 * Accounts and tokens: the first admin's signup, login (which issues a bearer
 * token), logout (which revokes it) and `me`. Tokens are stored only as
 * SHA-256 hashes.
 *
 * @module
 */
import { Hono } from "hono";
import type * as wire from "../../proto/api_types.ts";
import { permissionDenied, unauthenticated } from "../../proto/errors.ts";
import { authenticatePassword } from "../auth.ts";
import { hashPassword } from "../password.ts";
import { StoreConflictError } from "../store/store.ts";
import { requireUser } from "./_auth.ts";
import { readJsonBody, requiredString } from "./_body.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { issueToken, revokeToken } from "../tokens.ts";
import { assertPasswordLoginAllowed } from "./oidc.ts";
import { checkPassword, normalizeEmail } from "./_fields.ts";
import { userView } from "./_views.ts";

/** `/signup`, `/login`, `/logout` and `/me`. */
export function authRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const user = requireUser(ctx);

  app.post("/signup", async (c) => {
    const body = await readJsonBody<wire.Credentials>(c.req.raw);
    const email = normalizeEmail(requiredString(body, "email"));
    const password = requiredString(body, "password");
    checkPassword(password);
    const closed = () =>
      permissionDenied("Signup is closed: this gateway has an admin already", {
        hint: 'ask an admin to run "hoop admin create user EMAIL"',
      });
    if (await ctx.store.countUsers() > 0) throw closed();
    let created;
    try {
      // Atomic in the store: of concurrent first signups, exactly one becomes admin.
      created = await ctx.store.createFirstUser({
        id: crypto.randomUUID(),
        email,
        role: "admin",
        groups: [],
        passwordHash: await hashPassword(password),
        createdAt: new Date().toISOString(),
      });
    } catch (err) {
      if (err instanceof StoreConflictError) throw closed();
      throw err;
    }
    ctx.log.info("first admin signed up", { user: email });
    return c.json({ user: userView(created) } satisfies wire.UserResponse, 201);
  });

  app.post("/login", async (c) => {
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
    ctx.log.info("user logged in", { user: found.email });
    return c.json(
      {
        token: issued.token,
        expires_at: issued.expiresAt.toISOString(),
        user: userView(found),
      } satisfies wire.LoginResponse,
    );
  });

  app.post("/logout", user, async (c) => {
    await revokeToken(
      ctx.store,
      ctx.broker,
      c.get("token").id,
      "the token was revoked: its user logged out",
    );
    return c.body(null, 204);
  });

  app.get(
    "/me",
    user,
    (c) => c.json({ user: userView(c.get("user")) } satisfies wire.UserResponse),
  );

  return app;
}

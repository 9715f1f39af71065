/**
 * User accounts, admins only. Deleting a user revokes their tokens (the store
 * cascades) and ends their live sessions; an admin cannot delete themselves.
 *
 * @module
 */
import { Hono } from "hono";
import type * as wire from "../../proto/api_types.ts";
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
} from "../../proto/errors.ts";
import { generatePassword, hashPassword } from "../password.ts";
import type { Role } from "../store/store.ts";
import { requireAdmin } from "./_auth.ts";
import { optionalString, readJsonBody, requiredString } from "./_body.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { checkPassword, groupsOf, normalizeEmail } from "./_fields.ts";
import { userView } from "./_views.ts";

/** `/users` and `/users/:email`. */
export function userRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const admin = requireAdmin(ctx);

  app.get("/users", admin, async (c) => {
    return c.json((await ctx.store.listUsers()).map(userView) satisfies wire.User[]);
  });

  app.post("/users", admin, async (c) => {
    const body = await readJsonBody<wire.CreateUserRequest>(c.req.raw);
    const email = normalizeEmail(requiredString(body, "email"));
    const role = (optionalString(body, "role") ?? "user") as Role;
    if (role !== "admin" && role !== "user") {
      throw invalidArgument(`Invalid role "${role}": use admin or user`);
    }
    let password = optionalString(body, "password");
    const generated = password === undefined;
    if (password === undefined) password = generatePassword();
    checkPassword(password);
    if (await ctx.store.getUserByEmail(email)) {
      throw alreadyExists(`Cannot create user "${email}": a user with that email already exists`);
    }
    const user = await ctx.store.createUser({
      id: crypto.randomUUID(),
      email,
      role,
      groups: groupsOf(body),
      passwordHash: await hashPassword(password),
      createdAt: new Date().toISOString(),
    });
    ctx.log.info("user created", { user: email, role });
    const answer: wire.CreateUserResponse = {
      user: userView(user),
      ...(generated ? { password } : {}),
    };
    return c.json(answer, 201);
  });

  app.delete("/users/:email", admin, async (c) => {
    const email = normalizeEmail(c.req.param("email"));
    const user = await ctx.store.getUserByEmail(email);
    if (!user) throw notFound(`Cannot delete user "${email}": no user with that email`);
    if (user.id === c.get("user").id) {
      // Not a usage error (exit 2): the request is well-formed, the gateway's state forbids it.
      throw failedPrecondition(`Cannot delete user "${email}": that is you`, {
        hint: "ask another admin to delete this account",
      });
    }
    await ctx.store.deleteUser(email);
    ctx.broker.endUserSessions(user.id, `user "${email}" was deleted`);
    ctx.parking?.revokeOwner(user.id);
    ctx.log.info("user deleted", { user: email });
    return c.json({ user: userView(user) } satisfies wire.UserResponse);
  });

  return app;
}

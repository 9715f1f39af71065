/**
 * The HTTP JSON API (docs/API.md) as a Hono app built from an
 * {@linkcode ApiContext}: each resource file contributes its routes under
 * `/api`, `errors.ts` answers every failure in the `{"error": {...}}` shape,
 * and two guards keep today's contract at the edges: a path with a malformed
 * `%`-escape is a 400, and a known path asked with another method is a 400
 * naming the method (unknown paths are 404).
 *
 * @module
 */
import { type Context, Hono, type Next } from "hono";
import { invalidArgument } from "../../proto/errors.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { agentRoutes } from "./agents.ts";
import { authRoutes } from "./auth.ts";
import { connectionRoutes } from "./connections.ts";
import { notFoundHandler, onApiError } from "./errors.ts";
import { sessionRoutes } from "./sessions.ts";
import { userRoutes } from "./users.ts";
import { VERSION } from "../../proto/version.ts";
import type { Health } from "../../proto/api_types.ts";

/**
 * Refuse a path Hono would otherwise pass on half-decoded: a malformed
 * `%`-escape is the client's mistake, not a name to look up.
 */
async function rejectMalformedPath(c: Context, next: Next): Promise<void> {
  const path = new URL(c.req.url).pathname;
  try {
    decodeURIComponent(path);
  } catch (err) {
    if (!(err instanceof URIError)) throw err;
    throw invalidArgument(`Cannot read the URL path "${path}": it has a malformed %-escape`, {
      cause: err,
      hint: 'write a literal "%" as "%25"',
    });
  }
  await next();
}

function methodNotAllowed(c: Context): never {
  throw invalidArgument(`Method ${c.req.method} is not allowed here`);
}

/** Build the API's Hono app over the gateway pieces in `ctx`. */
export function createApiApp(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.onError(onApiError(ctx.log));
  app.notFound(notFoundHandler);
  app.use(rejectMalformedPath);

  app.get("/api/healthz", (c) => c.json({ status: "ok", version: VERSION } satisfies Health));
  app.route("/api", authRoutes(ctx));
  app.route("/api", agentRoutes(ctx));
  app.route("/api", connectionRoutes(ctx));
  app.route("/api", userRoutes(ctx));
  app.route("/api", sessionRoutes(ctx));

  // Registered last, so they only run when no route of the right method answered.
  const paths = new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => r.path));
  for (const path of paths) app.all(path, methodNotAllowed);
  return app;
}

/** The request handler `Deno.serve` runs for the API. */
export function apiHandler(ctx: ApiContext): (req: Request) => Promise<Response> {
  const app = createApiApp(ctx);
  return async (req) => await app.fetch(req);
}

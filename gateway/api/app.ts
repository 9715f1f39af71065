/**
 * The HTTP JSON API (docs/API.md) as a Hono app built from an
 * {@linkcode ApiContext}: each resource file contributes its routes under
 * `/api`, `errors.ts` answers every failure in the `{"error": {...}}` shape,
 * and guards keep today's contract at the edges: a path with a malformed
 * `%`-escape is a 400, and a known path asked with another method (HEAD
 * included) is a 400 naming the method; unknown paths are 404.
 *
 * @module
 */
import { type Context, Hono, type Next } from "hono";
import type { Health } from "../../proto/api_types.ts";
import { invalidArgument } from "../../proto/errors.ts";
import { VERSION } from "../../proto/version.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { agentRoutes } from "./agents.ts";
import { authRoutes } from "./auth.ts";
import { connectionRoutes } from "./connections.ts";
import { notFoundHandler, onApiError } from "./errors.ts";
import { sessionRoutes } from "./sessions.ts";
import { userRoutes } from "./users.ts";

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

/** A known path asked with another method: 400 (not 405), as clients have always been told. */
function methodNotAllowed(c: Context): never {
  throw invalidArgument(`Method ${c.req.method} is not allowed here`);
}

/**
 * Hono answers HEAD through the GET route; the API never served HEAD, and a
 * GET route's side effects (token checks, logs) have no business running for it.
 */
async function refuseHead(c: Context, next: Next): Promise<void> {
  if (c.req.method === "HEAD") methodNotAllowed(c);
  await next();
}

function healthRoutes(): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get("/healthz", (c) => c.json({ status: "ok", version: VERSION } satisfies Health));
  return app;
}

/** Build the API's Hono app over the gateway pieces in `ctx`. */
export function createApiApp(ctx: ApiContext): Hono<ApiEnv> {
  const resources = [
    healthRoutes(),
    authRoutes(ctx),
    agentRoutes(ctx),
    connectionRoutes(ctx),
    userRoutes(ctx),
    sessionRoutes(ctx),
  ];
  const paths = new Set(
    resources.flatMap((r) => r.routes.filter((x) => x.method !== "ALL").map((x) => x.path)),
  );

  const app = new Hono<ApiEnv>();
  app.onError(onApiError(ctx.log));
  app.notFound(notFoundHandler);
  app.use(rejectMalformedPath);
  for (const path of paths) app.use(`/api${path}`, refuseHead);
  for (const r of resources) app.route("/api", r);
  // Registered last, so they only run when no route of the right method answered.
  for (const path of paths) app.all(`/api${path}`, methodNotAllowed);
  return app;
}

/** The request handler `Deno.serve` runs for the API. */
export function apiHandler(ctx: ApiContext): (req: Request) => Promise<Response> {
  const app = createApiApp(ctx);
  return async (req) => await app.fetch(req);
}

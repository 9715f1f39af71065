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
import { redact } from "../../proto/redact.ts";
import { VERSION } from "../../proto/version.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { agentRoutes } from "./agents.ts";
import { authRoutes } from "./auth.ts";
import { connectionRoutes } from "./connections.ts";
import { eventRoutes } from "./events.ts";
import { notFoundHandler, onApiError } from "./errors.ts";
import { serveConsole } from "../web/static.ts";
import { oidcRoutes } from "./oidc.ts";
import { runRoutes } from "./run.ts";
import { sessionRoutes } from "./sessions.ts";
import { terminalRoutes } from "./terminal.ts";
import { userRoutes } from "./users.ts";
import { webSessionRoutes } from "./web_session.ts";

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

/** How long `/api/healthz` waits for the store before calling it unreachable. */
export const HEALTH_STORE_TIMEOUT_MS = 2_000;

/** Answer within the deadline whether the store takes a query. */
async function storeProblem(ctx: ApiContext): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      ctx.store.countUsers(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${HEALTH_STORE_TIMEOUT_MS} ms`)),
          HEALTH_STORE_TIMEOUT_MS,
        );
      }),
    ]);
    return undefined;
  } catch (err) {
    return `the gateway's store is unreachable: ${redact(errorText(err))}`;
  } finally {
    clearTimeout(timer);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `/healthz`: 200 when the gateway can record sessions, 503 with the reason when it cannot. */
function healthRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.get("/healthz", async (c) => {
    const audit = ctx.audit?.health ?? { state: "ok" as const };
    const problem = await storeProblem(ctx);
    if (!problem && audit.state === "ok") {
      return c.json({ status: "ok", version: VERSION } satisfies Health);
    }
    const body: Health = {
      status: "unavailable",
      version: VERSION,
      reason: problem ??
        `audit records are being spooled: ${audit.state === "ok" ? "" : audit.reason}`,
    };
    if (audit.state !== "ok") {
      body.audit = { state: audit.state, since: audit.since, spooled_bytes: audit.spooledBytes };
    }
    return c.json(body, 503);
  });
  return app;
}

/** Build the API's Hono app over the gateway pieces in `ctx`. */
export function createApiApp(ctx: ApiContext): Hono<ApiEnv> {
  const resources = [
    healthRoutes(ctx),
    authRoutes(ctx),
    oidcRoutes(ctx),
    agentRoutes(ctx),
    connectionRoutes(ctx),
    userRoutes(ctx),
    sessionRoutes(ctx),
    webSessionRoutes(ctx),
    runRoutes(ctx),
    terminalRoutes(ctx),
    eventRoutes(ctx),
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
  // Everything outside /api is the web console (gateway/web/); unknown API paths stay JSON 404s.
  app.get(
    "*",
    (c) => new URL(c.req.url).pathname.startsWith("/api/") ? notFoundHandler(c) : serveConsole(c),
  );
  return app;
}

/** The request handler the API port runs; `peer` is the client's address. */
export function apiHandler(
  ctx: ApiContext,
): (req: Request, peer?: Deno.NetAddr) => Promise<Response> {
  const app = createApiApp(ctx);
  return async (req, peer) => await app.fetch(req, { peer });
}

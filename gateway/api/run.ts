/**
 * `POST /api/connections/{name}/run`: the web console's one-shot run, an
 * exec session recorded like `hoop exec` (the gateway is the client:
 * `gateway/web_exec/`). SQL on postgres connections, stdin on command
 * connections; tcp connections have nothing to run.
 *
 * @module
 */
import { Hono } from "hono";
import type * as wire from "../../proto/api_types.ts";
import { failedPrecondition, invalidArgument, resourceExhausted } from "../../proto/errors.ts";
import { HTTP_IDLE_TIMEOUT_MS } from "../http_front.ts";
import { openOwnSession, runCommand, runSql } from "../web_exec/mod.ts";
import { requireUser } from "./_auth.ts";
import { MAX_BODY_BYTES, readJsonBody } from "./_body.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { visibleConnection } from "./connections.ts";

/** Largest run input (UTF-8 bytes); the request body limit bounds it first. */
export const MAX_RUN_INPUT_BYTES = MAX_BODY_BYTES;

/** Output a run keeps (stdout and stderr together, or pgwire result bytes); past it the session is cut. */
export const MAX_RUN_OUTPUT_BYTES = 16 * 1024 * 1024;

/**
 * A run still going after this is cut, and the answer says so. Under the API
 * port's idle timeout (a run sends no byte while it works), so the answer
 * still has a connection to go out on.
 */
export const RUN_TIMEOUT_MS = HTTP_IDLE_TIMEOUT_MS - 10_000;

/** `/connections/:name/run`. */
export function runRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const user = requireUser(ctx);

  app.post("/connections/:name/run", user, async (c) => {
    const name = c.req.param("name");
    const conn = await visibleConnection(ctx, c.get("user"), name);
    if (conn.type === "tcp" || conn.type === "mysql") {
      throw failedPrecondition(`Cannot run on connection "${name}": it is of type ${conn.type}`, {
        hint: `use "hoop connect ${name}"`,
      });
    }
    const body = await readJsonBody<wire.RunRequest>(c.req.raw);
    if (typeof body.input !== "string") {
      throw invalidArgument('Missing field "input": give the SQL or the command\'s input');
    }
    const input = new TextEncoder().encode(body.input);
    if (input.length > MAX_RUN_INPUT_BYTES) {
      throw resourceExhausted(
        `Cannot run on connection "${name}": the input has ${input.length} bytes, over the limit of ${MAX_RUN_INPUT_BYTES}`,
        { hint: "use hoop exec -f FILE" },
      );
    }
    const sql = body.input.trim();
    if (conn.type === "postgres" && !sql) {
      throw invalidArgument('Empty field "input": give the SQL to run');
    }
    const session = await openOwnSession(ctx, {
      user: c.get("user"),
      token: c.get("token"),
      connection: conn,
      verb: "exec",
    });
    const timeout = new AbortController();
    const timer = setTimeout(
      () =>
        timeout.abort(`The run took longer than ${RUN_TIMEOUT_MS / 1000} s: the session was cut`),
      RUN_TIMEOUT_MS,
    );
    // A browser that gives up (tab closed, request aborted) leaves nobody to read the answer.
    const gone = () => timeout.abort("the browser went away: the session was cut");
    c.req.raw.signal.addEventListener("abort", gone, { once: true });
    const opts = { maxOutputBytes: MAX_RUN_OUTPUT_BYTES, signal: timeout.signal };
    try {
      const result = conn.type === "postgres"
        ? await runSql(session, sql, opts)
        : await runCommand(session, input, opts);
      return c.json({ session_id: session.sessionId, ...result } satisfies wire.RunResponse);
    } finally {
      clearTimeout(timer);
      c.req.raw.signal.removeEventListener("abort", gone);
    }
  });

  return app;
}

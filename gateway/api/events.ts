/**
 * `GET /api/events`: Server-Sent Events that keep the console live without
 * reloads. The gateway polls what the caller may see every
 * {@linkcode EVENTS_POLL_MS}, and sends an event only when its JSON changed:
 * `connections` (as `GET /api/connections` answers the caller) for everyone,
 * `agents` and `sessions` (the open ones, newest first) for admins. The
 * stream ends when the caller's token expires or is revoked, the user is
 * deleted or their role changes; their groups are read again on every poll.
 *
 * @module
 */
import { Hono } from "hono";
import type * as wire from "../../proto/api_types.ts";
import { resourceExhausted } from "../../proto/errors.ts";
import { canUse } from "../auth.ts";
import type { User } from "../store/store.ts";
import { requireUser } from "./_auth.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { agentView, connectionView, sessionView } from "./_views.ts";

/** How often an event stream looks for changes. */
export const EVENTS_POLL_MS = 1000;

/** A comment line this often keeps proxies and the API port's idle timeout from closing a quiet stream. */
export const EVENTS_KEEPALIVE_MS = 15_000;

/** Event streams one user may hold open at once; the next is refused (429). */
export const MAX_EVENT_STREAMS_PER_USER = 8;

/** Running sessions an admin's `sessions` event lists at most. */
export const MAX_EVENT_SESSIONS = 100;

const encoder = new TextEncoder();

/** The current JSON of each event the user may see. */
async function snapshot(
  ctx: ApiContext,
  user: User,
): Promise<Map<keyof wire.ConsoleEvents, string>> {
  const agents = await ctx.store.listAgents();
  const byId = new Map(agents.map((a) => [a.id, a]));
  const conns = (await ctx.store.listConnections()).filter((conn) => canUse(user, conn));
  const views: wire.Connection[] = await Promise.all(
    conns.map((conn) => connectionView(ctx, conn, byId)),
  );
  const out = new Map<keyof wire.ConsoleEvents, string>([
    ["connections", JSON.stringify(views)],
  ]);
  if (user.role === "admin") {
    out.set("agents", JSON.stringify(agents.map((a) => agentView(ctx, a)) satisfies wire.Agent[]));
    const open = await ctx.store.listSessions({ status: "open", limit: MAX_EVENT_SESSIONS });
    out.set("sessions", JSON.stringify(open.map(sessionView) satisfies wire.Session[]));
  }
  return out;
}

/** `/events`. */
export function eventRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const user = requireUser(ctx);
  /** Open streams per user id. */
  const open = new Map<string, number>();

  app.get("/events", user, (c) => {
    const caller = c.get("user");
    const token = c.get("token");
    const count = open.get(caller.id) ?? 0;
    if (count >= MAX_EVENT_STREAMS_PER_USER) {
      throw resourceExhausted(
        `Cannot open an event stream: ${caller.email} has ${count} open, the limit is ${MAX_EVENT_STREAMS_PER_USER}`,
        { hint: "close other console tabs", retryAfterSeconds: EVENTS_POLL_MS / 1000 },
      );
    }
    open.set(caller.id, count + 1);
    let stopped = false;
    const onStopping = () => stop();
    let wake: (() => void) | undefined;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      ctx.stopping?.removeEventListener("abort", onStopping);
      wake?.();
      const left = (open.get(caller.id) ?? 1) - 1;
      if (left <= 0) open.delete(caller.id);
      else open.set(caller.id, left);
    };
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });

    /** The caller as of now, or `undefined` once the token or the user is gone. */
    const current = async (): Promise<User | undefined> => {
      const t = await ctx.store.getTokenByHash(token.tokenHash);
      if (!t || t.revokedAt || Date.parse(t.expiresAt) <= Date.now()) return undefined;
      return await ctx.store.getUserById(t.userId);
    };

    ctx.stopping?.addEventListener("abort", onStopping, { once: true });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // The loop runs on its own: a start() that never resolved would hold back cancel().
        void pump(controller);
      },
      cancel() {
        stop();
      },
    });

    async function pump(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
      const sent = new Map<string, string>();
      let lastWrite = Date.now();
      const write = (text: string) => {
        controller.enqueue(encoder.encode(text));
        lastWrite = Date.now();
      };
      try {
        write("retry: 2000\n\n");
        for (let who: User | undefined = caller; who && !stopped; who = await current()) {
          // A role changed (single sign-on rechecks bring it up to date): the admin
          // events sent so far are no longer the caller's; a new stream starts clean.
          if (who.role !== caller.role) break;
          const now = await snapshot(ctx, who);
          for (const [event, json] of now) {
            if (sent.get(event) === json) continue;
            sent.set(event, json);
            write(`event: ${event}\ndata: ${json}\n\n`);
          }
          if (Date.now() - lastWrite >= EVENTS_KEEPALIVE_MS) write(": keepalive\n\n");
          await sleep(EVENTS_POLL_MS);
        }
      } catch (err) {
        // The store failed for a moment, or the client went away: end this stream only.
        if (!stopped) ctx.log.debug("event stream ended", { err });
      } finally {
        stop();
        try {
          controller.close();
        } catch {
          // Cancelled by the client already.
        }
      }
    }
    return new Response(body, {
      headers: {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",
      },
    });
  });

  return app;
}

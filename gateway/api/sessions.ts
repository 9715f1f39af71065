/**
 * Sessions: admins list and read the audit trail; any user opens a session
 * on a connection they may use, and gets a one-use ticket to present on the
 * data port (the broker owns what happens next).
 *
 * @module
 */
import { Hono } from "hono";
import type * as wire from "../../proto/api_types.ts";
import { DataSide } from "../../proto/data_header.ts";
import { toAsciicast } from "../../proto/asciicast.ts";
import { failedPrecondition, invalidArgument, notFound } from "../../proto/errors.ts";
import type { SessionStatus, SessionVerb } from "../store/store.ts";
import { requireAdmin, requireUser } from "./_auth.ts";
import { type Body, optionalString, readJsonBody, requiredString } from "./_body.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { eventView, sessionView } from "./_views.ts";
import { visibleConnection } from "./connections.ts";

const VERBS: SessionVerb[] = ["connect", "exec", "console"];
const STATUSES: SessionStatus[] = ["open", "done", "error"];

/** A query filter that must be one of `choices`; absent or empty means no filter. */
function oneOf<T extends string>(
  value: string | undefined,
  field: string,
  choices: readonly T[],
): T | undefined {
  if (!value) return undefined;
  if (!choices.includes(value as T)) {
    throw invalidArgument(`Invalid ${field} "${value}": use ${choices.join(", ")}`);
  }
  return value as T;
}

/**
 * ISO 8601 dates and times, with an optional zone: what the filter accepts,
 * since `Date.parse` alone also takes loose forms ("1" is the year 2001).
 */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** A query time, normalized to the ISO form the store writes (so text order is time order). */
function isoTime(value: string | undefined, field: string): string | undefined {
  if (!value) return undefined;
  const ms = ISO_TIME.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) {
    throw invalidArgument(`Invalid ${field} "${value}": use an ISO time`, {
      hint: "for example 2026-01-31T09:00:00Z",
    });
  }
  return new Date(ms).toISOString();
}

/** Default and largest `limit` of `GET /api/sessions`. */
const DEFAULT_SESSION_LIMIT = 100;
const MAX_SESSION_LIMIT = 10_000;

/** Terminal sizes from this up are ignored (the agent's default applies). */
const MAX_TERMINAL_CELLS = 10_000;

/** A console size field, `undefined` unless it is a plausible whole number. */
function terminalSize(body: Body<wire.CreateSessionRequest>, key: "cols" | "rows") {
  const v = body[key];
  return typeof v === "number" && Number.isInteger(v) && v > 0 && v < MAX_TERMINAL_CELLS
    ? v
    : undefined;
}

/** `/sessions` and `/sessions/:id`. */
export function sessionRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const user = requireUser(ctx);
  const admin = requireAdmin(ctx);

  app.get("/sessions", admin, async (c) => {
    const limitText = c.req.query("limit") ?? null;
    const limit = limitText === null ? DEFAULT_SESSION_LIMIT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SESSION_LIMIT) {
      throw invalidArgument(
        `Invalid limit "${limitText}": use a whole number from 1 to ${MAX_SESSION_LIMIT}`,
      );
    }
    const sessions = await ctx.store.listSessions({
      // Emails are stored lower-cased; match the filter the same way.
      userEmail: c.req.query("user")?.trim().toLowerCase() || undefined,
      connectionName: c.req.query("connection") || undefined,
      verb: oneOf(c.req.query("verb"), "verb", VERBS),
      status: oneOf(c.req.query("status"), "status", STATUSES),
      since: isoTime(c.req.query("since"), "since"),
      until: isoTime(c.req.query("until"), "until"),
      limit,
    });
    return c.json(sessions.map(sessionView) satisfies wire.Session[]);
  });

  app.get("/sessions/:id", admin, async (c) => {
    const id = c.req.param("id");
    const session = await ctx.store.getSession(id);
    if (!session) {
      throw notFound(`Unknown session "${id}"`, { hint: 'run "hoop admin get sessions"' });
    }
    const events = await ctx.store.listSessionEvents(id);
    const answer: wire.SessionDetails = {
      session: sessionView(session),
      events: events.map(eventView),
    };
    return c.json(answer);
  });

  app.get("/sessions/:id/cast", admin, async (c) => {
    const id = c.req.param("id");
    const session = await ctx.store.getSession(id);
    if (!session) {
      throw notFound(`Unknown session "${id}"`, { hint: 'run "hoop admin get sessions"' });
    }
    // Only a console has a terminal recording; anything else would make an empty cast.
    if (session.verb !== "console") {
      throw failedPrecondition(
        `Cannot make a recording of session "${id}": it is not a console (verb ${session.verb})`,
        { hint: `GET /api/sessions/${id} has its events` },
      );
    }
    const events = await ctx.store.listSessionEvents(id);
    return c.body(toAsciicast(sessionView(session), events.map(eventView)), 200, {
      "Content-Type": "application/x-asciicast",
      "Content-Disposition": `attachment; filename="hoop-session-${id}.cast"`,
    });
  });

  app.post("/sessions", user, async (c) => {
    const body = await readJsonBody<wire.CreateSessionRequest>(c.req.raw);
    const conn = await visibleConnection(ctx, c.get("user"), requiredString(body, "connection"));
    const verb = (optionalString(body, "verb") ?? "connect") as SessionVerb;
    if (!VERBS.includes(verb)) {
      throw invalidArgument(`Invalid verb "${verb}": use ${VERBS.join(", ")}`);
    }
    const allowed = conn.type === "command" ? verb !== "connect" : verb !== "console";
    if (!allowed) {
      throw invalidArgument(`Cannot ${verb} connection "${conn.name}": it is of type ${conn.type}`);
    }
    const agent = await ctx.store.getAgentById(conn.agentId);
    if (!agent) throw notFound(`Connection "${conn.name}" has no agent`);
    const opened = await ctx.broker.open({
      user: c.get("user"),
      token: c.get("token"),
      connection: conn,
      agent,
      verb,
      cols: terminalSize(body, "cols"),
      rows: terminalSize(body, "rows"),
    });
    const answer: wire.CreateSessionResponse = {
      session_id: opened.sessionId,
      ticket: opened.ticket,
      data_addr: ctx.dataAddr,
      data_tls: ctx.dataTls,
      type: conn.type,
      warm_key: ctx.parking?.keyFor(c.get("user").id, DataSide.CLIENT),
    };
    return c.json(answer, 201);
  });

  return app;
}

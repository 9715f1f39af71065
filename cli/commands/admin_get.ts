import type {
  Agent,
  Connection,
  OrgKey,
  Session,
  SessionEvent,
  User,
} from "../../proto/api_types.ts";
import type { ApiClient } from "../api_client.ts";
import { type Command, type CommandArgs, stringFlag, UsageError } from "../command.ts";
import type { Context } from "../context.ts";
import { HoopError, notFound } from "../../proto/errors.ts";
import { describeNetError } from "../../proto/net_error.ts";
import {
  type Column,
  OUTPUT_OPTION,
  type OutputFormat,
  parseOutputFormat,
  renderJson,
  renderTable,
} from "../render.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor, segment } from "./_api.ts";
import { toAsciicast } from "../../proto/asciicast.ts";
import { renderSessionDetails, sessionDuration } from "./_session.ts";

/** The resources of `hoop admin get`, by canonical name, with the words accepted for each. */
export const RESOURCE_ALIASES: Readonly<Record<string, readonly string[]>> = {
  agents: ["agents", "agent"],
  orgkeys: ["orgkeys", "orgkey"],
  connections: ["connections", "connection", "conns", "conn"],
  users: ["users", "user"],
  sessions: ["sessions", "session"],
};

/** The canonical resource for `word`, or `undefined`. */
export function resolveResource(word: string): string | undefined {
  return Object.keys(RESOURCE_ALIASES).find((r) => RESOURCE_ALIASES[r].includes(word));
}

const groupsText = (groups: string[] | null | undefined) => (groups ?? []).join(",");

/** Table columns per resource; `-o json` prints the same objects whole. */
export const AGENT_COLUMNS: Column<Agent>[] = [
  { header: "UID", value: (a) => a.id },
  { header: "NAME", value: (a) => a.name },
  { header: "MODE", value: (a) => a.mode },
  { header: "VERSION", value: (a) => a.version },
  { header: "HOSTNAME", value: (a) => a.hostname },
  { header: "PLATFORM", value: (a) => a.platform },
  { header: "STATUS", value: agentStatusText },
];

/** An agent's STATUS cell: `-` for a key that never connected, as DESIGN.md shows it. */
export function agentStatusText(a: Agent): string {
  return a.status === "OFFLINE" && a.connected_at === null ? "-" : a.status;
}

/** Columns of `get orgkeys -o table`; without `-o` the DSN alone is printed. */
export const ORGKEY_COLUMNS: Column<OrgKey>[] = [
  { header: "ID", value: (k) => k.id },
  { header: "DSN", value: (k) => k.dsn },
  { header: "CREATED", value: (k) => k.created_at },
];
/** Columns of `get connections`. */
export const CONNECTION_COLUMNS: Column<Connection>[] = [
  { header: "NAME", value: (c) => c.name },
  { header: "TYPE", value: (c) => c.type },
  { header: "AGENT", value: (c) => c.agent },
  { header: "STATUS", value: (c) => c.status },
  { header: "GROUPS", value: (c) => groupsText(c.groups) },
];
/** Columns of `get users`. */
export const USER_COLUMNS: Column<User>[] = [
  { header: "EMAIL", value: (u) => u.email },
  { header: "ROLE", value: (u) => u.role },
  { header: "GROUPS", value: (u) => groupsText(u.groups) },
  { header: "CREATED", value: (u) => u.created_at },
];
/** Columns of `get sessions`. */
export const SESSION_COLUMNS: Column<Session>[] = [
  { header: "ID", value: (s) => s.id },
  { header: "USER", value: (s) => s.user },
  { header: "CONNECTION", value: (s) => s.connection },
  { header: "VERB", value: (s) => s.verb },
  { header: "STATUS", value: (s) => s.status },
  { header: "START", value: (s) => s.started_at },
  { header: "DURATION", value: (s) => sessionDuration(s) },
  // Input/output recording cut at HOOP_AUDIT_MAX_BYTES (statements are always kept).
  { header: "TRUNCATED", value: (s) => (s.truncated ? "yes" : "") },
];

async function print<T>(
  ctx: Context,
  format: OutputFormat,
  columns: Column<T>[],
  rows: T[],
  json: unknown,
) {
  await ctx.stdout.write(format === "json" ? renderJson(json) : renderTable(columns, rows));
}

function rejectFlags(args: CommandArgs, resource: string, names: string[]): void {
  for (const name of names) {
    if (args.values[name] !== undefined) {
      throw new UsageError(`option "--${name}" does not apply to ${resource}`);
    }
  }
}

/** The gateway's default `limit` of `GET /api/sessions` (docs/API.md). */
const DEFAULT_SESSION_LIMIT = 100;

async function getSessions(ctx: Context, api: ApiClient, args: CommandArgs, format: OutputFormat) {
  const query = new URLSearchParams();
  const user = stringFlag(args.values, "user");
  const connection = stringFlag(args.values, "connection");
  const limit = stringFlag(args.values, "limit");
  if (user) query.set("user", user);
  if (connection) query.set("connection", connection);
  if (limit !== undefined) {
    if (!/^[1-9]\d*$/.test(limit)) {
      throw new UsageError(`invalid --limit "${limit}": expected a positive whole number`);
    }
    query.set("limit", limit);
  }
  const qs = query.size ? `?${query}` : "";
  const sessions = await api.get<Session[]>(`/api/sessions${qs}`);
  await print(ctx, format, SESSION_COLUMNS, sessions, sessions);
  const shown = limit === undefined ? DEFAULT_SESSION_LIMIT : Number(limit);
  // A full page means the list was cut at the limit: say so where a script will not parse it.
  if (sessions.length >= shown) {
    const noun = shown === 1 ? "session" : "sessions";
    await ctx.stderr.writeln(`Showing only the newest ${shown} ${noun}: there may be more`);
    await ctx.stderr.writeln(`Hint: pass --limit N to see more (at most 10000)`);
  }
}

async function getSession(
  ctx: Context,
  api: ApiClient,
  id: string,
  args: CommandArgs,
  format: OutputFormat,
) {
  const answer = await api.get<{ session: Session; events: SessionEvent[] }>(
    `/api/sessions/${segment(id)}`,
  );
  const events = answer.events ?? [];
  const cast = stringFlag(args.values, "cast");
  if (cast !== undefined) {
    const s = answer.session;
    // Only a console has a terminal recording; anything else would make an empty cast.
    if (s.type !== "command" || s.verb === "exec") {
      throw new HoopError(
        "failed_precondition",
        `Cannot write a recording of session "${id}": it is not a console (verb ${s.verb}, ` +
          `connection type ${s.type})`,
        { hint: `run "hoop admin get session ${id}" to see its events` },
      );
    }
    const recording = toAsciicast(s, events);
    if (cast === "-") {
      await ctx.stdout.write(recording);
      return;
    }
    try {
      await Deno.writeTextFile(cast, recording);
    } catch (err) {
      throw new HoopError(
        "failed_precondition",
        `Cannot write the recording to "${cast}": ${describeNetError(err)}`,
        { cause: err, hint: "choose a path in a directory that exists and that you may write" },
      );
    }
    await ctx.stderr.writeln(`Wrote the recording of session ${id} to ${cast}`);
    return;
  }
  await ctx.stdout.write(
    format === "json" ? renderJson(answer) : renderSessionDetails(answer.session, events),
  );
}

/** Pick the row named `name` from a list, or fail with not_found. */
function only<T>(rows: T[], match: (row: T) => boolean, what: string, name: string): T[] {
  const found = rows.filter(match);
  if (found.length === 0) {
    throw notFound(`Cannot find ${what} "${name}": it does not exist`, {
      hint: `run "hoop admin get ${what}s"`,
    });
  }
  return found;
}

/** `hoop admin get RESOURCE [NAME|ID]`: list resources as a table or JSON. */
export const adminGetCommand: Command = {
  path: ["admin", "get"],
  summary: "List agents, orgkeys, connections, users or sessions; show one session",
  usage:
    "hoop admin get agents|orgkeys|connections|users|sessions|session ID [-o json|table] [flags]",
  help: `Resources (singular and plural both work; "conn" for connections):
  agents              agent keys and their live status
  orgkeys             the organization key: its DSN alone (for HOOP_KEY of "hoop run");
                      -o table or -o json for its id and creation time
  connections         published resources
  users               accounts, roles and groups
  sessions            recorded connect/exec sessions, newest first (100 unless --limit;
                      stderr says when the list was cut)
  session ID          one session: details and recorded events

Flags:
  -o, --output FMT    table (default) or json (the API's objects, snake_case keys)
  --user EMAIL        sessions: only this user's
  --connection NAME   sessions: only this connection's
  --limit N           sessions: at most N
  --cast FILE         session ID: write the console recording as asciicast v2 ("-" for stdout);
                      refused for sessions that are not consoles
${API_URL_HELP}

Examples:
  hoop admin get agents
  export HOOP_KEY=$(hoop admin get orgkeys)
  hoop admin get connections -o json
  hoop admin get sessions --user alice@example.com --limit 20
  hoop admin get session 0b7c5e7e-8a6f-4f2a-9d0e-1c2b3a4d5e6f --cast console.cast`,
  options: {
    ...OUTPUT_OPTION,
    user: { type: "string" },
    connection: { type: "string" },
    limit: { type: "string" },
    cast: { type: "string" },
    ...API_URL_OPTION,
  },
  allowPositionals: 2,
  async run(ctx, args) {
    const word = args.positionals[0];
    const choices = Object.keys(RESOURCE_ALIASES).join(", ");
    if (word === undefined) throw new UsageError(`missing RESOURCE: choose one of ${choices}`);
    const resource = resolveResource(word);
    if (!resource) throw new UsageError(`unknown resource "${word}": choose one of ${choices}`);
    const name = args.positionals[1];
    if (word === "session" && name === undefined) {
      throw new UsageError(
        'missing session ID: run "hoop admin get sessions" to list them, then "hoop admin get session ID"',
      );
    }
    const format = parseOutputFormat(stringFlag(args.values, "output"));
    if (resource !== "sessions" || name !== undefined) {
      rejectFlags(args, resource, ["user", "connection", "limit"]);
    }
    if (resource !== "sessions" || name === undefined) rejectFlags(args, resource, ["cast"]);
    if (resource === "orgkeys" && name !== undefined) {
      throw new UsageError(`unexpected argument "${name}": orgkeys takes no name`);
    }

    const api = await clientFor(ctx, args.values);
    try {
      switch (resource) {
        case "agents": {
          let agents = await api.get<Agent[]>("/api/agents");
          if (name !== undefined) agents = only(agents, (a) => a.name === name, "agent", name);
          await print(ctx, format, AGENT_COLUMNS, agents, agents);
          break;
        }
        case "orgkeys": {
          const key = await api.get<OrgKey>("/api/orgkeys");
          // The DSN alone, as "create agent" prints it: export HOOP_KEY=$(hoop admin get orgkeys).
          if (stringFlag(args.values, "output") === undefined) await ctx.stdout.writeln(key.dsn);
          else await print(ctx, format, ORGKEY_COLUMNS, [key], key);
          break;
        }
        case "connections": {
          if (name !== undefined) {
            const answer = await api.get<Connection | { connection: Connection }>(
              `/api/connections/${segment(name)}`,
            );
            // The API wraps a single connection as {connection}; accept a bare object too.
            const conn = "connection" in answer && typeof answer.connection === "object"
              ? answer.connection
              : answer as Connection;
            await print(ctx, format, CONNECTION_COLUMNS, [conn], [conn]);
          } else {
            const conns = await api.get<Connection[]>("/api/connections");
            await print(ctx, format, CONNECTION_COLUMNS, conns, conns);
          }
          break;
        }
        case "users": {
          let users = await api.get<User[]>("/api/users");
          if (name !== undefined) users = only(users, (u) => u.email === name, "user", name);
          await print(ctx, format, USER_COLUMNS, users, users);
          break;
        }
        case "sessions":
          if (name === undefined) await getSessions(ctx, api, args, format);
          else await getSession(ctx, api, name, args, format);
          break;
      }
      return 0;
    } finally {
      api.close();
    }
  },
};

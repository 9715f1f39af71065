/**
 * Connections: users list and read those they may use (a shared group, or
 * the admin role); admins create and delete them. A connection's config is
 * checked for its type when it is created, and shown with secrets masked.
 *
 * @module
 */
import { Hono } from "hono";
import type * as wire from "../../proto/api_types.ts";
import { validateName } from "../../proto/dsn.ts";
import { alreadyExists, invalidArgument, notFound, permissionDenied } from "../../proto/errors.ts";
import { portNumber } from "../../proto/host_port.ts";
import { parsePostgresUri } from "../../proto/postgres_uri.ts";
import { parseMysqlUri } from "../../proto/mysql_uri.ts";
import { canUse } from "../auth.ts";
import type { Connection, ConnectionType, User } from "../store/store.ts";
import { requireAdmin, requireUser } from "./_auth.ts";
import { readJsonBody, requiredString } from "./_body.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { groupsOf } from "./_fields.ts";
import { connectionView } from "./_views.ts";
import { endWithdrawnSessions } from "../withdrawn_access.ts";

const CONNECTION_TYPES: ConnectionType[] = ["postgres", "mysql", "tcp", "command"];

/**
 * The connection `name` if `user` may use it; throws `not_found` or
 * `permission_denied` naming it.
 */
export async function visibleConnection(
  ctx: ApiContext,
  user: User,
  name: string,
): Promise<Connection> {
  const conn = await ctx.store.getConnectionByName(name);
  if (!conn) {
    throw notFound(`Unknown connection "${name}"`, { hint: 'run "hoop admin get connections"' });
  }
  if (!canUse(user, conn)) {
    throw permissionDenied(
      `Access denied to connection "${name}": ${user.email} is in none of its groups`,
    );
  }
  return conn;
}

/** The settings a connection of `type` needs, taken from the request's `config`. */
function connectionConfig(type: ConnectionType, raw: unknown): Record<string, string> {
  const c = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const get = (k: string) => {
    const v = c[k];
    if (typeof v !== "string" && typeof v !== "number") {
      throw invalidArgument(`Missing config "${k}" for a ${type} connection`);
    }
    return String(v);
  };
  switch (type) {
    case "postgres": {
      const uri = get("uri");
      // Parsed as the agent will parse it: a bad sslmode or port is refused now,
      // not at the first session.
      parsePostgresUri(uri);
      return { uri };
    }
    case "mysql": {
      const uri = get("uri");
      parseMysqlUri(uri);
      return { uri };
    }
    case "tcp": {
      const host = get("host");
      const port = get("port");
      if (portNumber(port) === undefined) {
        throw invalidArgument(`Invalid port "${port}": use a number from 1 to 65535`);
      }
      return { host, port };
    }
    case "command": {
      const command = get("command").trim();
      if (!command) throw invalidArgument('Missing config "command" for a command connection');
      return { command };
    }
  }
}

/** `/connections` and `/connections/:name`. */
export function connectionRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const user = requireUser(ctx);
  const admin = requireAdmin(ctx);

  app.get("/connections", user, async (c) => {
    const agents = new Map((await ctx.store.listAgents()).map((a) => [a.id, a]));
    const conns = (await ctx.store.listConnections()).filter((conn) => canUse(c.get("user"), conn));
    const views = await Promise.all(conns.map((conn) => connectionView(ctx, conn, agents)));
    return c.json(views satisfies wire.Connection[]);
  });

  app.get("/connections/:name", user, async (c) => {
    const conn = await visibleConnection(ctx, c.get("user"), c.req.param("name"));
    return c.json(
      { connection: await connectionView(ctx, conn) } satisfies wire.ConnectionResponse,
    );
  });

  app.post("/connections", admin, async (c) => {
    const body = await readJsonBody<wire.CreateConnectionRequest>(c.req.raw);
    const name = requiredString(body, "name");
    validateName("connection", name);
    const type = requiredString(body, "type") as ConnectionType;
    if (!CONNECTION_TYPES.includes(type)) {
      throw invalidArgument(
        `Invalid connection type "${type}": use ${CONNECTION_TYPES.join(", ")}`,
      );
    }
    const agentName = requiredString(body, "agent");
    const agent = await ctx.store.getAgentByName(agentName);
    if (!agent) {
      throw notFound(`Cannot create connection "${name}": no agent named "${agentName}"`, {
        hint: 'run "hoop admin get agents"',
      });
    }
    if (await ctx.store.getConnectionByName(name)) {
      throw alreadyExists(
        `Cannot create connection "${name}": a connection with that name already exists`,
      );
    }
    const conn = await ctx.store.createConnection({
      id: crypto.randomUUID(),
      name,
      type,
      agentId: agent.id,
      config: connectionConfig(type, body.config),
      groups: groupsOf(body),
      createdAt: new Date().toISOString(),
    });
    ctx.log.info("connection created", { conn: name, agent: agentName, type });
    const answer: wire.ConnectionResponse = { connection: await connectionView(ctx, conn) };
    return c.json(answer, 201);
  });

  app.patch("/connections/:name", admin, async (c) => {
    const name = c.req.param("name");
    const body = await readJsonBody<wire.UpdateConnectionRequest>(c.req.raw);
    if (body.groups === undefined) {
      throw invalidArgument(`Cannot update connection "${name}": nothing to change`, {
        hint: 'give "groups"',
      });
    }
    const conn = await ctx.store.getConnectionByName(name);
    if (!conn) throw notFound(`Cannot update connection "${name}": no connection with that name`);
    const updated = await ctx.store.updateConnectionGroups(name, groupsOf(body));
    const ended = await endWithdrawnSessions(ctx.store, ctx.broker, { connectionName: name });
    ctx.log.info("connection groups changed", {
      conn: name,
      groups: updated.groups.join(","),
      sessions_ended: ended,
    });
    return c.json(
      { connection: await connectionView(ctx, updated) } satisfies wire.ConnectionResponse,
    );
  });

  app.delete("/connections/:name", admin, async (c) => {
    const name = c.req.param("name");
    const conn = await ctx.store.getConnectionByName(name);
    if (!conn) throw notFound(`Cannot delete connection "${name}": no connection with that name`);
    const view = await connectionView(ctx, conn);
    await ctx.store.deleteConnection(name);
    const ended = await endWithdrawnSessions(ctx.store, ctx.broker, { connectionName: name });
    ctx.log.info("connection deleted", { conn: name, sessions_ended: ended });
    return c.json({ connection: view } satisfies wire.ConnectionResponse);
  });

  return app;
}

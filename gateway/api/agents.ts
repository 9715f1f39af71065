/**
 * Agents and the organization key, admins only. Creating either answers a
 * DSN holding a fresh key that the gateway keeps only as a hash (the org
 * key's DSN is sealed at rest so admins can show it again); deleting either
 * cuts the agents' streams and sessions through `onRevokeAgents`.
 *
 * @module
 */
import { Hono } from "hono";
import type * as wire from "../../proto/api_types.ts";
import { type DsnScheme, formatDsn, validateName } from "../../proto/dsn.ts";
import { alreadyExists, invalidArgument, notFound } from "../../proto/errors.ts";
import { generateAgentKey, sha256Hex } from "../../proto/keys.ts";
import type { AgentMode, OrgKey } from "../store/store.ts";
import { requireAdmin } from "./_auth.ts";
import { optionalString, readJsonBody, requiredString } from "./_body.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { agentView } from "./_views.ts";

/** Name used in org-key DSNs; the key, not the name, identifies it. */
const ORG_KEY_NAME = "org";

/** A DSN pointing agents at the gateway's public gRPC URL. */
function agentDsn(ctx: ApiContext, name: string, key: string, mode: AgentMode): string {
  const u = ctx.grpcUrl;
  const scheme = u.protocol.replace(":", "") as DsnScheme;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = Number(u.port || (scheme.endsWith("s") ? 443 : 80));
  return formatDsn({ scheme, name, key, host, port, mode });
}

function orgKeyView(org: OrgKey): wire.OrgKey {
  return { id: org.id, dsn: org.key, created_at: org.createdAt };
}

/** `/agents` and `/orgkeys`. */
export function agentRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const admin = requireAdmin(ctx);

  app.get("/agents", admin, async (c) => {
    const agents = await ctx.store.listAgents();
    return c.json(agents.map((a) => agentView(ctx, a)) satisfies wire.Agent[]);
  });

  app.post("/agents", admin, async (c) => {
    const body = await readJsonBody<wire.CreateAgentRequest>(c.req.raw);
    const name = requiredString(body, "name");
    validateName("agent", name);
    const mode = (optionalString(body, "mode") ?? "standard") as AgentMode;
    if (mode !== "standard" && mode !== "embedded") {
      throw invalidArgument(`Invalid agent mode "${mode}": use standard or embedded`);
    }
    if (await ctx.store.getAgentByName(name)) {
      throw alreadyExists(`Cannot create agent "${name}": an agent with that name already exists`, {
        hint: 'run "hoop admin get agents"',
      });
    }
    const key = generateAgentKey();
    const agent = await ctx.store.createAgent({
      id: crypto.randomUUID(),
      name,
      mode,
      keyHash: await sha256Hex(key),
      viaOrgKey: false,
      createdAt: new Date().toISOString(),
    });
    ctx.log.info("agent created", { agent: name, mode });
    const answer: wire.CreateAgentResponse = {
      agent: agentView(ctx, agent),
      dsn: agentDsn(ctx, name, key, mode),
    };
    return c.json(answer, 201);
  });

  app.delete("/agents/:name", admin, async (c) => {
    const name = c.req.param("name");
    const agent = await ctx.store.getAgentByName(name);
    if (!agent) {
      throw notFound(`Cannot delete agent "${name}": no agent with that name`, {
        hint: 'run "hoop admin get agents"',
      });
    }
    await ctx.store.deleteAgent(name);
    ctx.onRevokeAgents([agent.id]);
    ctx.log.info("agent revoked", { agent: name });
    return c.json({ agent: agentView(ctx, agent) } satisfies wire.AgentResponse);
  });

  app.get("/orgkeys", admin, async (c) => {
    const org = await ctx.store.getOrgKey();
    if (!org) {
      throw notFound("No organization key exists", { hint: 'run "hoop admin create orgkeys"' });
    }
    return c.json(orgKeyView(org));
  });

  app.post("/orgkeys", admin, async (c) => {
    if (await ctx.store.getOrgKey()) {
      throw alreadyExists("Cannot create the organization key: one exists already", {
        hint: 'show it with "hoop admin get orgkeys" or revoke it with "hoop admin delete orgkeys"',
      });
    }
    const key = generateAgentKey();
    const org = await ctx.store.createOrgKey({
      id: crypto.randomUUID(),
      key: agentDsn(ctx, ORG_KEY_NAME, key, "embedded"),
      keyHash: await sha256Hex(key),
      createdAt: new Date().toISOString(),
    });
    ctx.log.info("organization key created");
    return c.json(orgKeyView(org), 201);
  });

  app.delete("/orgkeys", admin, async (c) => {
    const viaOrg = (await ctx.store.listAgents()).filter((a) => a.viaOrgKey).map((a) => a.id);
    const org = await ctx.store.getOrgKey();
    if (!org) throw notFound("Cannot delete the organization key: none exists");
    await ctx.store.deleteOrgKey();
    // Agents on the org key may not have a stored record yet (mid-HELLO); cut every link using it.
    const live = ctx.presence.all().filter((l) => l.viaOrgKey).map((l) => l.agentId);
    ctx.onRevokeAgents([...new Set([...viaOrg, ...live])]);
    ctx.log.info("organization key revoked", { agents: viaOrg.length });
    return c.json({ id: org.id } satisfies wire.DeleteOrgKeyResponse);
  });

  return app;
}

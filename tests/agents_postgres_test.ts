/**
 * The agent story once on the PostgreSQL store: a gateway with
 * HOOP_DATABASE_URL on a throwaway server, an agent that comes ONLINE, is
 * revoked and cut off, and a gateway restart that keeps the records.
 */
import assert from "node:assert/strict";
import {
  freePort,
  hoop,
  hoopOk,
  parseTable,
  signupAdmin,
  startAgent,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, startPostgres } from "./_postgres.ts";

if (POSTGRES_SKIP_REASON) console.warn(`PostgreSQL agent test ignored: ${POSTGRES_SKIP_REASON}`);

async function agentRow(env: Record<string, string>, name: string) {
  const r = await hoopOk(["admin", "get", "agents"], { env });
  return parseTable(r.stdout).find((row) => row.NAME === name);
}

Deno.test({
  name: "user story: agents on a gateway backed by PostgreSQL come ONLINE and are revoked",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    await using pg = await startPostgres();
    const databaseUrl = await pg.createDatabase(`hoop_agents_${crypto.randomUUID().slice(0, 8)}`);
    // Same ports and data dir (its secret key) on restart: the CLI's login stays valid.
    const ports = { grpc: freePort(), api: freePort(), data: freePort() };
    const gw = await startGateway({ databaseUrl, ports });
    let gw2: Awaited<ReturnType<typeof startGateway>> | undefined;
    let home: string | undefined;
    try {
      assert.match(gw.log.text, /store=postgres/);
      const admin = await signupAdmin(gw);
      const env = admin.env;
      home = env.HOOP_HOME;
      const key = (await hoopOk(["admin", "create", "agent", "pg-agent"], { env })).stdout.trim();
      assert.match(
        key,
        /^grpc:\/\/pg-agent:xagt-[A-Za-z0-9_-]{43}@127\.0\.0\.1:\d+\?mode=standard$/,
      );

      await t.step("the agent shows ONLINE, then is cut off when deleted", async () => {
        await using agent = await startAgent(key, { name: "agent-pg" });
        await waitFor(async () => (await agentRow(env, "pg-agent"))?.STATUS === "ONLINE", {
          timeoutMs: 10_000,
          message: "pg-agent never showed ONLINE",
        });
        const row = (await agentRow(env, "pg-agent"))!;
        assert.match(row.PLATFORM, /^\w+\/\w+$/);
        assert.notEqual(row.VERSION, "-");
        await hoopOk(["admin", "delete", "agent", "pg-agent"], { env });
        await waitFor(() => agent.hasExited(), {
          timeoutMs: 5_000,
          message: "the revoked agent did not exit",
        });
        assert.equal((await agent.status).code, 1);
        assert.match(agent.log.text, /key revoked or unknown/);
        const again = await hoop(["start", "agent"], { env: { HOOP_KEY: key }, timeoutMs: 20_000 });
        assert.equal(again.code, 1);
        assert.match(again.stderr, /unauthorized/);
      });

      await t.step("records survive a gateway restart on the same database", async () => {
        await hoopOk(["admin", "create", "agent", "kept"], { env });
        await gw.stop();
        gw2 = await startGateway({ databaseUrl, ports, dataDir: gw.dataDir, name: "gateway-2" });
        assert.match(gw2.log.text, /store=postgres/);
        const row = await agentRow(env, "kept");
        // Never connected: "-", as DESIGN.md shows it (#11).
        assert.equal(row?.STATUS, "-");
        assert.equal(await agentRow(env, "pg-agent"), undefined);
      });
    } finally {
      await gw2?.stop();
      await gw.stop();
      for (const dir of [gw.dataDir, home]) {
        if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    }
  },
});

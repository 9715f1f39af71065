/**
 * Issue #11: the audit stopped recording statements once a session passed
 * HOOP_AUDIT_MAX_BYTES, so a long pgbench session lost every later statement.
 * Statements are the audit; the cap is for captured output only.
 */
import assert from "node:assert/strict";
import {
  getSession,
  hoopOk,
  listSessions,
  signupAdmin,
  startAgent,
  startConnect,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, startPostgres } from "./_postgres.ts";

/** Far below what the statements of the run below add up to. */
const AUDIT_MAX_BYTES = 4096;
const TRANSACTIONS = 600;

Deno.test({
  name: "every pgbench statement is recorded past HOOP_AUDIT_MAX_BYTES",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn() {
    await using pg = await startPostgres();
    const url = await pg.createUser("bench", "bench-pw-7", "bench");
    await using gw = await startGateway({ env: { HOOP_AUDIT_MAX_BYTES: String(AUDIT_MAX_BYTES) } });
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
      .trim();
    await using _agent = await startAgent(key);
    await hoopOk(["admin", "create", "connection", "pg", "--agent", "dev", "--postgres", url], {
      env: admin.env,
    });
    await using tunnel = await startConnect("pg", { env: admin.env });
    const conn = ["-h", "127.0.0.1", "-p", String(tunnel.port), "-U", "anyone", "bench"];
    const env = { PGPASSWORD: "anything", PGCONNECT_TIMEOUT: "10" };
    const init = await new Deno.Command("pgbench", { args: ["-i", "-q", "-s", "1", ...conn], env })
      .output();
    assert.equal(init.code, 0, new TextDecoder().decode(init.stderr));
    // One client, one connection (one session), a known number of statements.
    const run = await new Deno.Command("pgbench", {
      args: ["-n", "-S", "-c", "1", "-t", String(TRANSACTIONS), ...conn],
      env,
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));

    // pgbench has exited; the gateway closes the session's record a moment later.
    const sessions = await waitFor(async () => {
      const all = await listSessions(admin, ["--connection", "pg"]);
      return all.every((s) => s.status !== "open") ? all : undefined;
    }, { timeoutMs: 10_000, message: "every pg session closed" });
    // Newest first: the run, then pgbench -i's sessions.
    const bench = sessions![0];
    assert.ok(bench.bytes_in > TRANSACTIONS * 40, JSON.stringify(bench));
    const { events } = await getSession(admin, bench.id);
    const selects = events.filter((e) =>
      e.kind === "sql" && /^SELECT abalance FROM pgbench_accounts WHERE aid = /.test(e.data ?? "")
    );
    assert.equal(selects.length, TRANSACTIONS, "every statement is in the record");
    const sqlBytes = events.filter((e) => e.kind === "sql").reduce(
      (n, e) => n + (e.data ?? "").length,
      0,
    );
    assert.ok(sqlBytes > AUDIT_MAX_BYTES * 4, `statements: ${sqlBytes} bytes`);
  },
});

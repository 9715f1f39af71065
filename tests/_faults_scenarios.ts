/**
 * A gateway killed (`SIGKILL`) and restarted on the same data dir and ports,
 * written once and run on both stores (`faults_test.ts` on SQLite,
 * `faults_postgres_test.ts` on PostgreSQL): its agents come back ONLINE
 * within their reconnect backoff cap, a `hoop connect` that ran through the
 * crash serves new connections, and the session the crash cut is closed as
 * `error`. The reconnect times are printed for the closing note.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BACKOFF_MAX_MS } from "../agent/agent.ts";
import { fillBuffer, writeAll } from "../proto/bytes.ts";
import {
  freePort,
  type GatewayProcess,
  getSession,
  hoopOk,
  listAgents,
  listSessions,
  signupAdmin,
  startAgent,
  startConnect,
  startEchoServer,
  startGateway,
  type StartGatewayOptions,
  waitFor,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, startPostgres } from "./_postgres.ts";

/** Which store the gateway under test keeps its data in. */
export type FaultStoreMode = "sqlite" | "postgres";

/** Agents that reconnect after the crash; each draws its own jitter. */
const AGENTS = 2;
/** Beyond the backoff cap, time for one dial, HELLO and a CLI call on a loaded machine. */
const RECONNECT_SLACK_MS = 10_000;
const TRANSFER_BYTES = 1024 * 1024;

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Send `data` on a new connection to `port` and read as many bytes back. */
async function echoThrough(port: number, data: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const back = new Uint8Array(data.length);
    const [, n] = await Promise.all([writeAll(conn, data), fillBuffer(conn, back)]);
    assert.equal(n, data.length, "the echo came back short");
    return back;
  } finally {
    conn.close();
  }
}

/** Register the gateway crash-and-restart test for one store. */
export function gatewayRestartScenario(mode: FaultStoreMode): void {
  const ignore = mode === "postgres" && POSTGRES_SKIP_REASON !== undefined;
  if (ignore) console.warn(`gateway restart on PostgreSQL ignored: ${POSTGRES_SKIP_REASON}`);
  Deno.test({
    name: `a gateway killed and restarted gets its agents and tunnels back (${mode} store)`,
    ignore,
    fn: () => run(mode),
  });
}

async function run(mode: FaultStoreMode): Promise<void> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    let databaseUrl: string | undefined;
    if (mode === "postgres") {
      const pg = await startPostgres();
      cleanups.push(() => pg.stop());
      databaseUrl = await pg.createDatabase("hoop_restart");
    }
    const dataDir = await Deno.makeTempDir({ prefix: "hoop-gw-" });
    cleanups.push(() => Deno.remove(dataDir, { recursive: true }));
    const gwOpts: StartGatewayOptions = {
      dataDir,
      databaseUrl,
      ports: { grpc: freePort(), api: freePort(), data: freePort() },
    };
    let gw: GatewayProcess = await startGateway(gwOpts);
    cleanups.push(() => gw.stop());
    const echo = startEchoServer();
    cleanups.push(() => echo.close());
    const admin = await signupAdmin(gw);
    const agents = [];
    for (let i = 0; i < AGENTS; i++) {
      const key = (await hoopOk(["admin", "create", "agent", `dev${i}`], { env: admin.env }))
        .stdout.trim();
      const agent = await startAgent(key, { name: `agent dev${i}` });
      cleanups.push(() => agent.stop());
      agents.push(agent);
    }
    await hoopOk([
      "admin",
      "create",
      "connection",
      "echo",
      "--agent",
      "dev0",
      "--tcp",
      `127.0.0.1:${echo.port}`,
    ], { env: admin.env });
    const tunnel = await startConnect("echo", { env: admin.env });
    cleanups.push(() => tunnel.stop());

    // A connection in flight when the gateway dies: its session must end as error.
    const held = await Deno.connect({ hostname: "127.0.0.1", port: tunnel.port });
    cleanups.push(() => Promise.resolve(held.close()));
    await writeAll(held, new TextEncoder().encode("before"));
    const reply = new Uint8Array(6);
    assert.equal(await fillBuffer(held, reply), 6);
    const [live] = await listSessions(admin, ["--connection", "echo", "--limit", "1"]);
    assert.equal(live.status, "open");
    // Running sessions save their byte counts periodically: wait for the first save, so the
    // record the crash leaves has "the bytes seen so far".
    await waitFor(async () => (await getSession(admin, live.id)).session.bytes_in >= 6, {
      timeoutMs: 20_000,
      intervalMs: 250,
      message: "the open session never saved its byte counts",
    });

    const t0 = performance.now();
    gw.kill("SIGKILL");
    await gw.status;
    // The client side closes at once (or after the echo's few bytes in flight, none here).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cut = await Promise.race([
      held.read(new Uint8Array(16)).catch(() => null),
      new Promise<"open">((r) => timer = setTimeout(() => r("open"), 15_000)),
    ]);
    clearTimeout(timer);
    assert.equal(cut, null, "the client connection stayed open after the gateway died");
    console.log(
      `fault figure: gateway kill -9 (${mode}): the tunnelled client was cut after ` +
        `${Math.round(performance.now() - t0)} ms`,
    );

    gw = await startGateway({ ...gwOpts, name: "gateway (restarted)" });
    const ready = performance.now();
    console.log(
      `fault figure: gateway restart (${mode}): listening again ${Math.round(ready - t0)} ms ` +
        `after the kill`,
    );
    const backMs = await Promise.all(agents.map(async (agent, i) => {
      await waitFor(() => agent.log.text.match(/connected to the gateway/g)!.length >= 2, {
        timeoutMs: BACKOFF_MAX_MS + RECONNECT_SLACK_MS,
        message: `agent dev${i} did not reconnect within the backoff cap`,
      });
      const ms = Math.round(performance.now() - ready);
      console.log(
        `fault figure: gateway restart (${mode}): agent dev${i} connected ${ms} ms after the ` +
          `gateway was listening (${Math.round(performance.now() - t0)} ms after the kill; ` +
          `backoff cap ${BACKOFF_MAX_MS} ms)`,
      );
      return ms;
    }));
    for (const ms of backMs) assert.ok(ms <= BACKOFF_MAX_MS + RECONNECT_SLACK_MS, `${ms} ms`);
    await waitFor(async () => (await listAgents(admin)).every((a) => a.status === "ONLINE"), {
      message: "the agents are not all ONLINE",
    });

    const data = crypto.getRandomValues(new Uint8Array(65536));
    const big = new Uint8Array(TRANSFER_BYTES);
    for (let off = 0; off < big.length; off += data.length) big.set(data, off);
    const back = await echoThrough(tunnel.port, big);
    assert.equal(sha256(back), sha256(big), "the bytes after the restart differ");
    assert.ok(!tunnel.hasExited(), "hoop connect exited");

    const { session } = await getSession(admin, live.id);
    console.log(
      `fault figure: gateway restart (${mode}): the cut session is ${session.status} ` +
        `(${JSON.stringify(session.error)}, bytes_in ${session.bytes_in})`,
    );
    assert.equal(session.status, "error");
    assert.ok(session.ended_at);
    assert.equal(session.bytes_in, 6, "the bytes seen before the crash");
    assert.equal(session.bytes_out, 6, "the bytes seen before the crash");
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }
}

/**
 * Agent scale: one gateway process, N lightweight agents inside the bench
 * process (each with the org key and its own embedded tcp connection), and
 * the gateway's time to see them ONLINE, its memory and its CPU at rest.
 *
 * @module
 */
import { join } from "node:path";
import { runAgent } from "../../agent/agent.ts";
import { parseDsn } from "../../proto/dsn.ts";
import { CHANNEL_OPTIONS } from "../../proto/grpc_service.ts";
import { Logger } from "../../proto/log.ts";
import {
  hoopOk,
  signupAdmin,
  spawnHoop,
  startEchoServer,
  startGateway,
} from "../../tests/_harness.ts";
import {
  ACTIVE_SESSIONS,
  type ActiveSessionsResult,
  measureActiveSessions,
} from "./active_sessions.ts";
import { cpuSeconds } from "./cpu.ts";
import { defer, readProcFile, sleepMs } from "./proc.ts";

/** How long the bench waits for all N agents to be ONLINE before reporting a shortfall. */
const ONLINE_DEADLINE_MS = 120_000;
/** Interval between `GET /api/agents` polls while agents come online. */
const POLL_INTERVAL_MS = 200;
/** How long stopping N agents may take before the bench moves on. */
const STOP_DEADLINE_MS = 30_000;

/** Figures of one scale point. */
export interface ScaleResult {
  agents: number;
  /** Seconds from starting the agents until `GET /api/agents` counts all of them ONLINE. */
  onlineSeconds?: number;
  /** How many were ONLINE when the deadline passed (== agents on success). */
  onlineCount: number;
  gatewayRssBeforeMb: number;
  gatewayRssAfterMb: number;
  /** (after - before) / N, in KB. */
  gatewayKbPerAgent: number;
  /** Gateway CPU seconds (user + system) from starting the agents until all were ONLINE. */
  gatewayOnlineCpuSeconds: number;
  /** Gateway CPU seconds (user + system) over the idle window: heartbeats at rest. */
  gatewayIdleCpuSeconds: number;
  /** The bench process (all N agents) CPU seconds over the same window. */
  agentsIdleCpuSeconds: number;
  idleWindowSeconds: number;
  /** (bench RSS after - before) / N, in KB: the in-process idle agent's cost. */
  benchKbPerAgent: number;
  /** TCP connections the gateway's gRPC port had from the agents. */
  grpcConnections: number;
  /** Each agent had its own HTTP/2 connection (else grpc-js shares one among them). */
  connectionPerAgent: boolean;
  /** At points with at least ACTIVE_SESSIONS agents: that many sessions open and busy at once. */
  active?: ActiveSessionsResult;
  problem?: string;
}

/** One standalone `hoop run` agent process, idle. */
export interface StandaloneAgentResult {
  rssMb: number;
  peakRssMb: number;
}

async function readStatusKb(pid: number, field: string): Promise<number> {
  const text = await readProcFile(`/proc/${pid}/status`);
  const m = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) : NaN;
}

/** Established TCP connections whose local port is `port` (IPv4, from /proc/net/tcp). */
async function establishedTo(port: number): Promise<number> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  let n = 0;
  for (const line of (await readProcFile("/proc/net/tcp")).split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    if (f[1].endsWith(`:${hex}`) && f[3] === "01") n++;
  }
  return n;
}

interface AgentRow {
  name: string;
  status: string;
}

async function onlineCount(apiUrl: string, token: string, prefix: string): Promise<number> {
  const res = await fetch(`${apiUrl}/api/agents`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`Cannot list agents: HTTP ${res.status}`);
  }
  const rows = await res.json() as AgentRow[];
  return rows.filter((r) => r.name.startsWith(prefix) && r.status === "ONLINE").length;
}

/** A silent logger: 1000 agents would otherwise print 1000 "connected" lines. */
const QUIET = new Logger({}, { sink: { write() {} }, level: "error" });

/**
 * Measure one scale point on a fresh gateway. When `standalone` is set, one
 * real `hoop run` agent process is measured on the same gateway afterwards.
 */
export async function measureScale(
  n: number,
  opts: { idleSeconds: number; standalone: boolean; connectionPerAgent: boolean },
): Promise<{ scale: ScaleResult; standalone?: StandaloneAgentResult }> {
  const gw = await startGateway({ name: `scale-gateway-${n}` });
  const stopGateway = defer(`scale gateway ${n}`, async () => {
    await gw.stop();
    await Deno.remove(gw.dataDir, { recursive: true }).catch(() => {});
  });
  const admin = await signupAdmin(gw);
  defer("scale CLI home", () => Deno.remove(admin.env.HOOP_HOME, { recursive: true }));
  const token = JSON.parse(
    await Deno.readTextFile(join(admin.env.HOOP_HOME, "config.json")),
  ).token as string;
  const orgKey = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
  const dsn = parseDsn(orgKey);
  const grpcPort = Number(new URL(gw.grpcUrl.replace(/^grpcs?:/, "http:")).port);

  // Let the gateway finish its start-up allocations before the baseline is read.
  await sleepMs(1_000);
  const gwRssBefore = await readStatusKb(gw.pid, "VmRSS");
  const benchRssBefore = Deno.memoryUsage().rss;

  // grpc-js shares one HTTP/2 connection among all clients of a process with equal
  // options; real agents are separate processes with a connection each, so each
  // in-process agent gets its own (the option is read when a client is made).
  const localPool = "grpc.use_local_subchannel_pool";
  const hadLocalPool = localPool in CHANNEL_OPTIONS;
  const previousLocalPool = CHANNEL_OPTIONS[localPool];
  if (opts.connectionPerAgent) CHANNEL_OPTIONS[localPool] = 1;
  const restorePool = () => {
    if (hadLocalPool) CHANNEL_OPTIONS[localPool] = previousLocalPool;
    else delete CHANNEL_OPTIONS[localPool];
  };
  const echo = startEchoServer();
  defer("scale echo server", () => echo.close());
  const gwCpuStart = await cpuSeconds(gw.pid);
  const stop = new AbortController();
  const started = performance.now();
  const runs = Array.from({ length: n }, (_, i) => {
    // Each agent's connection reaches an echo server, so sessions can carry bytes.
    const target = { host: "127.0.0.1", port: String(echo.port) };
    return runAgent({
      dsn,
      embedded: { name: `scale-${i}`, type: "tcp", config: target, publicConfig: target },
      log: QUIET,
      signal: stop.signal,
    }).catch(() => ({ reason: "stopped" as const }));
  });
  const stopAgents = defer(`${n} in-process agents`, async () => {
    stop.abort();
    await Promise.race([Promise.all(runs), sleepMs(STOP_DEADLINE_MS)]);
    restorePool();
  });

  let online = 0;
  let onlineSeconds: number | undefined;
  let problem: string | undefined;
  const deadline = Date.now() + ONLINE_DEADLINE_MS;
  for (;;) {
    try {
      online = await onlineCount(gw.apiUrl, token, "scale-");
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
    }
    if (online >= n) {
      onlineSeconds = (performance.now() - started) / 1000;
      problem = undefined;
      break;
    }
    if (Date.now() > deadline) {
      problem = `only ${online} of ${n} ONLINE after ${ONLINE_DEADLINE_MS / 1000} s`;
      break;
    }
    await sleepMs(POLL_INTERVAL_MS);
  }

  const gwCpu0 = await cpuSeconds(gw.pid);
  const gwOnlineCpu = gwCpu0 - gwCpuStart;
  const selfCpu0 = await cpuSeconds(Deno.pid);
  await sleepMs(opts.idleSeconds * 1000);
  const gwIdleCpu = await cpuSeconds(gw.pid) - gwCpu0;
  const selfIdleCpu = await cpuSeconds(Deno.pid) - selfCpu0;
  const gwRssAfter = await readStatusKb(gw.pid, "VmRSS");
  const benchRssAfter = Deno.memoryUsage().rss;
  const connections = await establishedTo(grpcPort);
  let active: ActiveSessionsResult | undefined;
  if (n >= ACTIVE_SESSIONS && onlineSeconds !== undefined) {
    const names = Array.from({ length: ACTIVE_SESSIONS }, (_, i) => `scale-${i}`);
    active = await measureActiveSessions(gw, token, names).catch((err) => ({
      sessions: ACTIVE_SESSIONS,
      opened: 0,
      openP50Ms: NaN,
      openP99Ms: NaN,
      gatewayRssMb: NaN,
      gatewayKbPerSession: NaN,
      gatewayCpuSeconds: NaN,
      windowSeconds: NaN,
      roundTrips: 0,
      problem: err instanceof Error ? err.message : String(err),
    }));
  }

  await stopAgents();

  let standalone: StandaloneAgentResult | undefined;
  if (opts.standalone) {
    const agent = spawnHoop("standalone agent", [
      "run",
      "--name",
      "scale-standalone",
      "--tcp",
      "127.0.0.1:9",
    ], { env: { HOOP_KEY: orgKey } });
    const stopAgent = defer("standalone agent", () => agent.stop());
    await agent.log.waitFor(/connected to the gateway/, 30_000);
    // Idle through a few heartbeats so the figure is the resting size, not the start-up peak.
    await sleepMs(opts.idleSeconds * 1000);
    standalone = {
      rssMb: await readStatusKb(agent.pid, "VmRSS") / 1024,
      peakRssMb: await readStatusKb(agent.pid, "VmHWM") / 1024,
    };
    await stopAgent();
  }
  await stopGateway();

  return {
    scale: {
      agents: n,
      onlineSeconds,
      onlineCount: online,
      gatewayRssBeforeMb: gwRssBefore / 1024,
      gatewayRssAfterMb: gwRssAfter / 1024,
      gatewayKbPerAgent: (gwRssAfter - gwRssBefore) / n,
      gatewayOnlineCpuSeconds: gwOnlineCpu,
      gatewayIdleCpuSeconds: gwIdleCpu,
      agentsIdleCpuSeconds: selfIdleCpu,
      idleWindowSeconds: opts.idleSeconds,
      benchKbPerAgent: (benchRssAfter - benchRssBefore) / 1024 / n,
      grpcConnections: connections,
      connectionPerAgent: opts.connectionPerAgent,
      active,
      problem,
    },
    standalone,
  };
}

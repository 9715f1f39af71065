/**
 * Active sessions at scale: on a gateway that already holds N agents, open
 * {@linkcode ACTIVE_SESSIONS} sessions at once (as `hoop connect` does: the
 * API, then the data port with the ticket), keep each carrying a small
 * request/answer exchange for a bounded number of turns, and read session
 * open times and the gateway's CPU and memory meanwhile.
 *
 * @module
 */
import { closeQuietly, readFull, writeAll } from "../../proto/bytes.ts";
import { dialDataPort } from "../../proto/data_dial.ts";
import { DataSide } from "../../proto/data_header.ts";
import type { CreateSessionResponse } from "../../proto/api_types.ts";
import { cpuSeconds } from "./cpu.ts";
import { readProcFile } from "./proc.ts";
import { percentile } from "./stats.ts";

/** Sessions open at once. */
export const ACTIVE_SESSIONS = 200;
/** Request/answer turns each session makes while all are open. */
const TURNS = 50;
/** Bytes of each request (echoed back). */
const MESSAGE_BYTES = 64;
/** Sessions opened at once per batch, as `hoop connect` bounds its opens. */
const OPEN_CONCURRENCY = 32;

/** What the active-session window measured. */
export interface ActiveSessionsResult {
  sessions: number;
  opened: number;
  openP50Ms: number;
  openP99Ms: number;
  /** Gateway RSS with every session open and busy, MB, and its growth per session, KB. */
  gatewayRssMb: number;
  gatewayKbPerSession: number;
  /** Gateway CPU seconds over the busy window, and the window's length. */
  gatewayCpuSeconds: number;
  windowSeconds: number;
  /** Round trips made in the window (sessions x turns when all went well). */
  roundTrips: number;
  problem?: string;
}

async function rssKb(pid: number): Promise<number> {
  const m = (await readProcFile(`/proc/${pid}/status`)).match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) : NaN;
}

async function openOne(apiUrl: string, token: string, connection: string) {
  const started = performance.now();
  const res = await fetch(`${apiUrl}/api/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ connection, verb: "connect" }),
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 201) {
    throw new Error(`POST /api/sessions: HTTP ${res.status} ${await res.text()}`);
  }
  const s = await res.json() as CreateSessionResponse;
  const conn = await dialDataPort(
    { addr: s.data_addr, tls: s.data_tls },
    DataSide.CLIENT,
    s.ticket,
    { pairWaitMs: 30_000 },
  );
  // Opened = the first echo came back through the resource.
  const ping = new Uint8Array(MESSAGE_BYTES).fill(1);
  await writeAll(conn, ping);
  if (!await readFull(conn, MESSAGE_BYTES, "the first echo")) {
    throw new Error("closed before the echo");
  }
  return { conn, ms: performance.now() - started };
}

/** Open the sessions on connections `names` (round-robin), exercise them, close them. */
export async function measureActiveSessions(
  gateway: { pid: number; apiUrl: string },
  token: string,
  names: string[],
): Promise<ActiveSessionsResult> {
  const rssBefore = await rssKb(gateway.pid);
  const conns: Deno.Conn[] = [];
  const openMs: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < ACTIVE_SESSIONS; i += OPEN_CONCURRENCY) {
    const batch = Array.from(
      { length: Math.min(OPEN_CONCURRENCY, ACTIVE_SESSIONS - i) },
      (_, j) => openOne(gateway.apiUrl, token, names[(i + j) % names.length]),
    );
    for (const r of await Promise.allSettled(batch)) {
      if (r.status === "fulfilled") {
        conns.push(r.value.conn);
        openMs.push(r.value.ms);
      } else failures.push(String(r.reason?.message ?? r.reason));
    }
  }
  const cpu0 = await cpuSeconds(gateway.pid);
  const t0 = performance.now();
  let roundTrips = 0;
  await Promise.allSettled(conns.map(async (conn) => {
    const out = new Uint8Array(MESSAGE_BYTES).fill(2);
    for (let turn = 0; turn < TURNS; turn++) {
      await writeAll(conn, out);
      if (!await readFull(conn, MESSAGE_BYTES, "an echo")) return;
      roundTrips++;
    }
  }));
  const windowSeconds = (performance.now() - t0) / 1000;
  const gatewayCpuSeconds = await cpuSeconds(gateway.pid) - cpu0;
  const rssAfter = await rssKb(gateway.pid);
  for (const c of conns) closeQuietly(c);
  return {
    sessions: ACTIVE_SESSIONS,
    opened: conns.length,
    openP50Ms: percentile(openMs, 50),
    openP99Ms: percentile(openMs, 99),
    gatewayRssMb: rssAfter / 1024,
    gatewayKbPerSession: conns.length ? (rssAfter - rssBefore) / conns.length : NaN,
    gatewayCpuSeconds,
    windowSeconds,
    roundTrips,
    problem: failures.length
      ? `${failures.length} of ${ACTIVE_SESSIONS} did not open: ${failures[0]}`
      : undefined,
  };
}

/**
 * `pgbench -S` runs and the parsing of pgbench's summary.
 *
 * @module
 */
import { runTool } from "./proc.ts";
import { pgEnv, type PgTarget } from "./targets.ts";

/** The figures of one pgbench run. */
export interface PgbenchSummary {
  tps: number;
  latencyMs: number;
  processed: number;
  failed: number;
  /** pgbench said "Run was aborted" or a client aborted. */
  aborted: boolean;
}

/** Parse pgbench's (PostgreSQL 15) summary; throws when the figures are missing. */
export function parsePgbench(out: string): PgbenchSummary {
  const tps = out.match(/^tps = ([\d.]+)/m);
  const latency = out.match(/^latency average = ([\d.]+) ms/m);
  const processed = out.match(/^number of transactions actually processed: (\d+)/m);
  // pgbench before 15 has no failed-transactions line: no retries, so none failed.
  const failed = out.match(/^number of failed transactions: (\d+)/m);
  if (!tps || !processed) {
    throw new Error(`Cannot parse pgbench output: no tps or processed line\n${out.slice(0, 2000)}`);
  }
  return {
    tps: Number(tps[1]),
    latencyMs: latency ? Number(latency[1]) : NaN,
    processed: Number(processed[1]),
    failed: failed ? Number(failed[1]) : 0,
    aborted: /Run was aborted|client \d+ aborted/.test(out),
  };
}

/** One pgbench measurement: the summary, or why there is none. */
export interface PgbenchRun {
  summary?: PgbenchSummary;
  /** Set when the run failed or has failed transactions; the report flags it. */
  problem?: string;
  /** CPU seconds each process of the path spent during the run (scripts/bench/cpu.ts). */
  cpu?: Record<string, number>;
}

/** `pgbench -S -n -c C -j min(C,2) -T SECONDS` against `target`. */
export async function runPgbench(
  target: PgTarget,
  opts: { clients: number; seconds: number },
): Promise<PgbenchRun> {
  const r = await runTool("pgbench", [
    "-S",
    "-n",
    "-c",
    String(opts.clients),
    "-j",
    String(Math.min(opts.clients, 2)),
    "-T",
    String(opts.seconds),
    "-h",
    "127.0.0.1",
    "-p",
    String(target.port),
    "-U",
    target.user,
    target.database,
  ], { env: pgEnv(target), timeoutMs: (opts.seconds + 60) * 1000 });
  const all = r.stdout + r.stderr;
  let summary: PgbenchSummary;
  try {
    summary = parsePgbench(all);
  } catch {
    return { problem: `pgbench exited ${r.code}: ${lastLines(r.stderr || r.stdout)}` };
  }
  const problems: string[] = [];
  if (r.code !== 0) problems.push(`exit ${r.code}`);
  if (summary.failed > 0) problems.push(`${summary.failed} failed transactions`);
  if (summary.aborted) problems.push("a client aborted");
  return { summary, problem: problems.length ? problems.join(", ") : undefined };
}

function lastLines(text: string, n = 3): string {
  return text.trim().split("\n").slice(-n).join(" | ");
}

/**
 * The non-pgbench measurements: a bulk COPY out through psql, session set-up
 * time, and `hoop exec` wall time.
 *
 * @module
 */
import { hoop } from "../../tests/_harness.ts";
import { median } from "./stats.ts";
import { runTool } from "./proc.ts";
import { pgEnv, type PgTarget, psqlArgs } from "./targets.ts";

/** Bytes of one COPY row: `repeat('x', 1000)` and its newline. */
export const COPY_ROW_BYTES = 1001;

/** Rows of a COPY that moves about `mb` megabytes (10^6 bytes). */
export function copyRows(mb: number): number {
  return Math.max(1, Math.round((mb * 1e6) / COPY_ROW_BYTES));
}

/** One bulk transfer: seconds and MB/s, or why it failed. */
export interface CopyRun {
  seconds?: number;
  mbPerSecond?: number;
  problem?: string;
  /** CPU seconds each process of the path spent during the transfer. */
  cpu?: Record<string, number>;
  /** Bytes the transfer carried. */
  bytes?: number;
}

/**
 * `COPY (SELECT repeat('x', 1000) FROM generate_series(1, N)) TO STDOUT`
 * through psql with its stdout on /dev/null; timed as the psql process's wall
 * time. The size is known from N, and exit 0 with ON_ERROR_STOP means it all came.
 */
export async function runCopy(target: PgTarget, mb: number): Promise<CopyRun> {
  const rows = copyRows(mb);
  const bytes = rows * COPY_ROW_BYTES;
  const r = await runTool("psql", [
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    ...psqlArgs(target),
    "-c",
    `COPY (SELECT repeat('x', 1000) FROM generate_series(1, ${rows})) TO STDOUT`,
  ], { env: pgEnv(target), discardStdout: true, timeoutMs: 300_000 });
  if (r.code !== 0) {
    return {
      problem: `psql exited ${r.code}${r.timedOut ? " (timed out)" : ""}: ${r.stderr.trim()}`,
    };
  }
  const seconds = r.ms / 1000;
  return { seconds, mbPerSecond: bytes / 1e6 / seconds, bytes };
}

/** Median session set-up over `runs` tries, or why it failed. */
export interface SetupRun {
  medianMs?: number;
  samplesMs: number[];
  problem?: string;
}

/**
 * Session set-up: wall time of `psql -X -At -c 'select 1'` (connect, startup,
 * password, first answer, exit), the same tool for every path. It includes
 * psql's own start (a few ms), which the direct path shows on its own.
 *
 * The paths take turns one psql at a time (run i: every path once, starting
 * one further along each run), so a burst of noise on this shared machine
 * lands on all of them instead of on the block of one path. A path whose
 * psql fails drops out with its problem; the others go on.
 */
export async function sessionSetups(targets: PgTarget[], runs: number): Promise<SetupRun[]> {
  const out: SetupRun[] = targets.map(() => ({ samplesMs: [] }));
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < targets.length; k++) {
      const j = (i + k) % targets.length;
      const target = targets[j];
      const run = out[j];
      if (run.problem) continue;
      const r = await runTool("psql", ["-X", "-At", ...psqlArgs(target), "-c", "select 1"], {
        env: pgEnv(target),
        timeoutMs: 30_000,
      });
      if (r.code !== 0 || r.stdout.trim() !== "1") {
        run.problem = `psql exited ${r.code}: ${r.stderr.trim()}`;
        continue;
      }
      run.samplesMs.push(r.ms);
    }
  }
  for (const run of out) if (!run.problem) run.medianMs = median(run.samplesMs);
  return out;
}

/** Wall times of `hoop exec NAME -i INPUT` runs. */
export interface ExecRun {
  samplesMs: number[];
  problem?: string;
}

/** Run `hoop exec NAME -i ping` `runs` times and time the CLI process each time. */
export async function execTimes(
  name: string,
  env: Record<string, string>,
  runs: number,
): Promise<ExecRun> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const r = await hoop(["exec", name, "-i", "ping"], { env, timeoutMs: 30_000 });
    const ms = performance.now() - started;
    if (r.code !== 0 || r.stdout.trim() !== "ping") {
      return { samplesMs: samples, problem: `hoop exec exited ${r.code}: ${r.stderr.trim()}` };
    }
    samples.push(ms);
  }
  return { samplesMs: samples };
}

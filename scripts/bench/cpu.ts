/**
 * What a path costs in CPU: each process on it (gateway, agent, CLI; ssh and
 * sshd for `ssh -L`), sampled from `/proc/PID/stat` (user + system time,
 * the process and its descendants, so sshd's per-connection children count)
 * before and after a measurement in the same run.
 *
 * @module
 */
import { readProcFile, runTool } from "./proc.ts";

/** A process on a path and the name the report gives it. */
export interface PathProcess {
  role: string;
  pid: number;
}

let ticksPerSecond: number | undefined;

async function clockTicks(): Promise<number> {
  if (ticksPerSecond === undefined) {
    const r = await runTool("getconf", ["CLK_TCK"], { timeoutMs: 5_000 });
    ticksPerSecond = Number(r.stdout.trim()) || 100;
  }
  return ticksPerSecond;
}

/** `pid` and every descendant, from one `ps` listing. */
async function processTree(pid: number): Promise<number[]> {
  const r = await runTool("ps", ["-e", "-o", "pid=,ppid="], { timeoutMs: 10_000 });
  const children = new Map<number, number[]>();
  for (const line of r.stdout.split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (!p) continue;
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** CPU seconds (user + system) used so far by process `pid` alone; 0 when it is gone. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readProcFile(`/proc/${pid}/stat`).catch(() => "");
  if (!stat) return 0;
  // Fields after the command name: state is field 3, utime 14 and stime 15.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / await clockTicks();
}

/** CPU seconds (user + system) used so far by `pid` and its live descendants. */
async function cpuSecondsOfTree(pid: number): Promise<number> {
  let total = 0;
  for (const p of await processTree(pid)) total += await cpuSeconds(p);
  return total;
}

/** CPU seconds per role, now. */
export async function sampleCpu(procs: readonly PathProcess[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const p of procs) out[p.role] = (out[p.role] ?? 0) + await cpuSecondsOfTree(p.pid);
  return out;
}

/** Run `work` and return its result with the CPU seconds each role spent meanwhile. */
export async function withCpu<T>(
  procs: readonly PathProcess[],
  work: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = await sampleCpu(procs);
  const result = await work();
  const after = await sampleCpu(procs);
  const cpu: Record<string, number> = {};
  for (const role of Object.keys(after)) cpu[role] = after[role] - (before[role] ?? 0);
  return { result, cpu };
}

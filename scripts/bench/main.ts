/**
 * `deno task bench`: hoop's data paths against a direct connection and
 * `ssh -L`, interleaved in rounds, then agent scale. Everything runs on
 * loopback; every loop is bounded; everything started is stopped again, on
 * success, failure, SIGINT or SIGTERM.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { withCpu } from "./cpu.ts";
import { describeMachine } from "./machine.ts";
import { execTimes, runCopy, sessionSetups } from "./measure.ts";
import { type BenchOptions, parseBenchArgs, USAGE } from "./options.ts";
import { runPgbench } from "./pgbench.ts";
import { runCleanup, runTool } from "./proc.ts";
import { type BenchResults, type PathResults, renderMarkdown, renderText } from "./report.ts";
import { measureScale } from "./scale.ts";
import { setUp } from "./setup.ts";
import { PATH_LABELS } from "./targets.ts";

/** The default report, in this checkout. */
const DEFAULT_OUT = fileURLToPath(new URL("../../docs/BENCHMARKS.md", import.meta.url));

function progress(text: string): void {
  console.error(`bench: ${text}`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

let stopping = false;

/** Stop everything on SIGINT/SIGTERM; a second signal exits at once. */
function installSignalHandlers(): void {
  const onSignal = async () => {
    if (stopping) Deno.exit(130);
    stopping = true;
    progress("interrupted: stopping everything it started");
    await runCleanup();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
}

/**
 * The order of the paths in `round` (from 1): as listed in odd rounds,
 * reversed in even ones. A path's place in a round moves what it measures by
 * up to ~8% here (two identical relay chains, measured one after the other,
 * differed that much), so no path keeps the same place in every round.
 */
export function roundOrder<T>(ids: readonly T[], round: number): T[] {
  return round % 2 === 1 ? [...ids] : [...ids].reverse();
}

async function measurePaths(opts: BenchOptions, results: BenchResults): Promise<void> {
  const setup = await setUp(opts.paths, opts.execRuns > 0);
  results.postgresVersion = setup.postgresVersion;
  if (setup.ssh) results.ssh = { version: setup.ssh.version, cipher: setup.ssh.cipher };
  const ids = opts.paths.filter((id) => setup.targets.has(id));
  for (const id of ids) {
    results.paths[id] = {
      pgbench: Object.fromEntries(opts.clients.map((c) => [c, []])),
      copy: [],
      setup: [],
    } as PathResults;
  }
  for (let round = 1; round <= opts.rounds; round++) {
    const tag = `round ${round}/${opts.rounds}`;
    const order = roundOrder(ids, round);
    for (const c of opts.clients) {
      for (const id of order) {
        if (stopping) return;
        const target = setup.targets.get(id)!;
        const { result: run, cpu } = await withCpu(
          target.procs ?? [],
          () => runPgbench(target, { clients: c, seconds: opts.seconds }),
        );
        run.cpu = cpu;
        results.paths[id]!.pgbench[c].push(run);
        progress(
          `${tag} pgbench -c ${c} ${PATH_LABELS[id]}: ` +
            (run.summary ? `${Math.round(run.summary.tps)} TPS` : "no result") +
            (run.problem ? ` (FLAGGED ${run.problem})` : ""),
        );
      }
    }
    for (const id of order) {
      if (stopping) return;
      const target = setup.targets.get(id)!;
      const { result: run, cpu } = await withCpu(
        target.procs ?? [],
        () => runCopy(target, opts.copyMb),
      );
      run.cpu = cpu;
      results.paths[id]!.copy.push(run);
      progress(
        `${tag} COPY ${opts.copyMb} MB ${PATH_LABELS[id]}: ` +
          (run.seconds !== undefined
            ? `${run.seconds.toFixed(2)} s, ${Math.round(run.mbPerSecond!)} MB/s`
            : `FLAGGED ${run.problem}`),
      );
    }
    if (stopping) return;
    const setups = await sessionSetups(ids.map((id) => setup.targets.get(id)!), opts.setupRuns);
    for (const [i, id] of ids.entries()) {
      const run = setups[i];
      results.paths[id]!.setup.push(run);
      progress(
        `${tag} session set-up ${PATH_LABELS[id]}: ` +
          (run.medianMs !== undefined ? `${run.medianMs.toFixed(1)} ms` : `FLAGGED ${run.problem}`),
      );
    }
  }
  if (setup.exec && !stopping) {
    progress(`hoop exec x ${opts.execRuns}`);
    results.exec = await execTimes(setup.exec.name, setup.exec.env, opts.execRuns);
  }
}

async function measureAgents(opts: BenchOptions, results: BenchResults): Promise<void> {
  for (const [i, n] of opts.agents.entries()) {
    if (stopping) return;
    progress(`agent scale: ${n} agents`);
    try {
      const { scale, standalone } = await measureScale(n, {
        idleSeconds: opts.idleSeconds,
        standalone: i === 0,
        connectionPerAgent: !opts.sharedGrpc,
      });
      results.scale.push(scale);
      if (standalone) results.standalone = standalone;
      progress(
        `agent scale: ${n} agents ` +
          (scale.onlineSeconds !== undefined
            ? `ONLINE in ${scale.onlineSeconds.toFixed(2)} s`
            : `FLAGGED ${scale.problem}`) +
          `, gateway RSS ${scale.gatewayRssAfterMb.toFixed(1)} MB`,
      );
    } catch (err) {
      results.problems.push(`agent scale with ${n} agents failed: ${errorText(err)}`);
      progress(`agent scale with ${n} agents failed: ${errorText(err)}`);
    } finally {
      await runCleanup();
    }
  }
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(Deno.args);
  } catch (err) {
    console.error(`bench: ${errorText(err)}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  installSignalHandlers();
  const started = performance.now();
  const results: BenchResults = {
    options: opts,
    command: ["deno task bench", ...Deno.args].join(" "),
    machine: await describeMachine(),
    startedAt: new Date(),
    durationSeconds: 0,
    postgresVersion: "not used",
    paths: {},
    scale: [],
    problems: [],
  };
  let code = 0;
  try {
    if (opts.paths.length) await measurePaths(opts, results);
  } catch (err) {
    results.problems.push(`path measurements stopped: ${errorText(err)}`);
    progress(`path measurements stopped: ${errorText(err)}`);
    code = 1;
  } finally {
    // The scale test gets the machine to itself.
    await runCleanup();
  }
  if (code === 0 && !stopping) await measureAgents(opts, results);
  results.durationSeconds = (performance.now() - started) / 1000;

  console.log("\n" + renderText(results));
  const out = opts.out === "docs/BENCHMARKS.md" ? DEFAULT_OUT : opts.out;
  if (out && Object.keys(results.paths).length > 0) {
    await Deno.writeTextFile(out, renderMarkdown(results));
    // `deno task check` runs `deno fmt --check` over docs/ too: leave the file formatted.
    const fmt = await runTool(Deno.execPath(), ["fmt", "--quiet", out], { timeoutMs: 60_000 });
    if (fmt.code !== 0) progress(`cannot format ${out}: ${fmt.stderr.trim()}`);
    progress(`wrote ${out}`);
  }
  const flagged = Object.values(results.paths).some((p) =>
    Object.values(p!.pgbench).some((runs) => runs.some((r) => r.problem)) ||
    p!.copy.some((r) => r.problem) || p!.setup.some((r) => r.problem)
  );
  if (flagged || results.problems.length || results.exec?.problem) code = code || 1;
  return code;
}

if (import.meta.main) {
  let code = 1;
  try {
    code = await main();
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.stack ?? err.message : err}`);
  } finally {
    await runCleanup();
  }
  // grpc-js channels of stopped in-process agents may keep timers alive for a while.
  Deno.exit(code);
}

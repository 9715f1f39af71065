/**
 * The flags of `deno task bench`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { FLOOR_PATHS, PATH_IDS, type PathId, TLS_PATHS } from "./targets.ts";

/** What one bench run measures. */
export interface BenchOptions {
  quick: boolean;
  rounds: number;
  /** pgbench -T. */
  seconds: number;
  /** pgbench -c values. */
  clients: number[];
  copyMb: number;
  /** psql sessions per path and round for the session set-up median. */
  setupRuns: number;
  execRuns: number;
  paths: PathId[];
  /** Agent counts of the scale test; empty with --no-agents. */
  agents: number[];
  /** Length of the idle window that measures heartbeat CPU. */
  idleSeconds: number;
  /** In-process agents share one gRPC connection (grpc-js's default) instead of one each. */
  sharedGrpc: boolean;
  /** Markdown report file; undefined = print only. */
  out?: string;
  help: boolean;
}

/** `deno task bench --help`. */
export const USAGE = `Usage: deno task bench [OPTIONS]

Compares PostgreSQL through hoop (hoop connect and the gateway listener, plain and
TLS) with a direct connection, with ssh -L and with each path's floor (bare Deno
relays with the same hops), all on loopback, interleaved in rounds; then measures
agent scale. Prints a table and writes docs/BENCHMARKS.md.

Options:
  --quick            smoke check: 1 round, 3 s pgbench, 100 MB COPY, 10 exec runs,
                     10 s idle window; prints only unless --out is given
  --rounds N         rounds of every path measurement (default 3; medians reported)
  --seconds S        pgbench -T (default 10)
  --copy-mb M        size of the COPY out in MB (default 500)
  --paths A,B        paths to run: ${PATH_IDS.join(", ")}
  --no-tls           leave out the paths with TLS on a hop
  --no-floor         leave out the bare-relay floor of each hoop path
  --agents N,M       agent counts of the scale test (default 1,100,1000)
  --no-agents        skip the scale test
  --shared-grpc      let the in-process agents share one gRPC connection (grpc-js's
                     default) instead of one connection each, as separate processes have
  --exec-runs N      hoop exec runs (default 50)
  --idle-seconds S   idle window for heartbeat CPU (default 20)
  --out FILE         Markdown report (default docs/BENCHMARKS.md; "-" for none)
  -h, --help         this help`;

function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`Cannot use --${flag} "${text}": not a positive whole number`);
  }
  return n;
}

function positiveNumber(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`Cannot use --${flag} "${text}": not a positive number`);
  }
  return n;
}

/** Parse the bench's flags; throws an Error with a Deno-style message on bad input. */
export function parseBenchArgs(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean" },
      rounds: { type: "string" },
      seconds: { type: "string" },
      "copy-mb": { type: "string" },
      paths: { type: "string" },
      "no-tls": { type: "boolean" },
      "no-floor": { type: "boolean" },
      agents: { type: "string" },
      "no-agents": { type: "boolean" },
      "shared-grpc": { type: "boolean" },
      "exec-runs": { type: "string" },
      "idle-seconds": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  const quick = values.quick ?? false;
  let paths: PathId[] = [...PATH_IDS];
  if (values.paths !== undefined) {
    paths = [];
    for (const p of values.paths.split(",").map((s) => s.trim()).filter(Boolean)) {
      if (!(PATH_IDS as readonly string[]).includes(p)) {
        throw new Error(
          `Cannot use path "${p}": unknown\nHint: choose from ${PATH_IDS.join(", ")}`,
        );
      }
      if (!paths.includes(p as PathId)) paths.push(p as PathId);
    }
    paths.sort((a, b) => PATH_IDS.indexOf(a) - PATH_IDS.indexOf(b));
  }
  if (values["no-tls"]) paths = paths.filter((p) => !TLS_PATHS.includes(p));
  if (values["no-floor"]) paths = paths.filter((p) => !FLOOR_PATHS.includes(p));
  let agents = [1, 100, 1000];
  if (values.agents !== undefined) {
    agents = values.agents.split(",").map((s) => positiveInt("agents", s.trim(), 1));
  }
  if (values["no-agents"]) agents = [];
  let out: string | undefined = quick ? undefined : "docs/BENCHMARKS.md";
  if (values.out !== undefined) out = values.out === "-" ? undefined : values.out;
  return {
    quick,
    rounds: positiveInt("rounds", values.rounds, quick ? 1 : 3),
    seconds: positiveInt("seconds", values.seconds, quick ? 3 : 10),
    clients: [1, 4, 16],
    copyMb: positiveNumber("copy-mb", values["copy-mb"], quick ? 100 : 500),
    setupRuns: quick ? 5 : 20,
    execRuns: positiveInt("exec-runs", values["exec-runs"], quick ? 10 : 50),
    paths,
    agents,
    sharedGrpc: values["shared-grpc"] ?? false,
    idleSeconds: positiveInt("idle-seconds", values["idle-seconds"], quick ? 10 : 20),
    out,
    help: values.help ?? false,
  };
}

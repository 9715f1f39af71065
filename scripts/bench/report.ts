/**
 * The bench's results and their two renderings: aligned text tables for the
 * terminal and Markdown for docs/BENCHMARKS.md. Both come from the same
 * {@linkcode Table} values so they cannot disagree.
 *
 * @module
 */
import type { MachineInfo } from "./machine.ts";
import type { CopyRun, ExecRun, SetupRun } from "./measure.ts";
import type { BenchOptions } from "./options.ts";
import type { PgbenchRun } from "./pgbench.ts";
import type { ScaleResult, StandaloneAgentResult } from "./scale.ts";
import { median, percentile, ratio } from "./stats.ts";
import { FLOOR_OF, PATH_LABELS, type PathId } from "./targets.ts";

/** Every round's measurements of one path. */
export interface PathResults {
  /** pgbench runs by client count, one per round. */
  pgbench: Record<number, PgbenchRun[]>;
  copy: CopyRun[];
  setup: SetupRun[];
}

/** Everything one bench run measured. */
export interface BenchResults {
  options: BenchOptions;
  /** The command line, as typed. */
  command: string;
  machine: MachineInfo;
  startedAt: Date;
  durationSeconds: number;
  postgresVersion: string;
  ssh?: { version: string; cipher: string };
  paths: Partial<Record<PathId, PathResults>>;
  exec?: ExecRun;
  scale: ScaleResult[];
  standalone?: StandaloneAgentResult;
  /** Steps that failed as a whole (setup of a part, scale point), with the reason. */
  problems: string[];
}

/** A table both renderers share. */
export interface Table {
  title: string;
  /** One line under the title: what the numbers mean. */
  note?: string;
  headers: string[];
  rows: string[][];
}

/** What a target compares: pgbench -S TPS at 1, 4 or 16 clients, COPY MB/s, or set-up time. */
type TargetMetric = "c1" | "c4" | "c16" | "copy" | "setup";

/**
 * A target from the issue, against ssh -L in the same run: `path`'s `metric`
 * must reach `bound` × ssh -L's (throughput), or stay at most `bound` × it
 * (set-up time, where lower is better).
 */
interface RatioTarget {
  path: PathId;
  metric: TargetMetric;
  bound: number;
}

/** The issue's targets, relative to ssh -L. */
const RATIO_TARGETS: RatioTarget[] = [
  ...(["listener", "listener-tls"] as const).flatMap((path) =>
    (["c1", "c4", "c16", "copy"] as const).map((metric) => ({ path, metric, bound: 1.0 }))
  ),
  { path: "connect", metric: "c4", bound: 0.8 },
  { path: "connect", metric: "copy", bound: 1.0 },
  { path: "connect-tls", metric: "c4", bound: 0.8 },
  { path: "connect-tls", metric: "copy", bound: 1.0 },
  { path: "connect-tls", metric: "setup", bound: 1.1 },
  { path: "listener-tls", metric: "setup", bound: 1.1 },
];

const METRIC_TEXT: Record<TargetMetric, string> = {
  c1: "pgbench -S -c 1",
  c4: "pgbench -S -c 4",
  c16: "pgbench -S -c 16",
  copy: "COPY",
  setup: "session set-up (TLS)",
};

/** 1000 agents ONLINE within this many seconds. */
const TARGET_ONLINE_SECONDS = 10;
/** Gateway RSS with 1000 agents at most this many MB. */
const TARGET_GATEWAY_RSS_MB = 400;
/** An idle agent's RSS at most this many MB. */
const TARGET_AGENT_RSS_MB = 100;
/** The agent count the scale targets are stated for. */
const TARGET_AGENTS = 1000;

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return "-";
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : "-";
}

function label(id: PathId): string {
  return PATH_LABELS[id];
}

function goodTps(runs: PgbenchRun[] | undefined): number[] {
  return (runs ?? []).filter((r) => r.summary && !r.problem).map((r) => r.summary!.tps);
}

function medianTps(p: PathResults | undefined, clients: number): number | undefined {
  const xs = goodTps(p?.pgbench[clients]);
  return xs.length ? median(xs) : undefined;
}

function medianLatency(p: PathResults | undefined, clients: number): number | undefined {
  const xs = (p?.pgbench[clients] ?? []).filter((r) => r.summary && !r.problem).map((r) =>
    r.summary!.latencyMs
  );
  return xs.length ? median(xs) : undefined;
}

function copyMbps(p: PathResults | undefined): number | undefined {
  const xs = (p?.copy ?? []).filter((r) => r.mbPerSecond !== undefined).map((r) => r.mbPerSecond!);
  return xs.length ? median(xs) : undefined;
}

function copySeconds(p: PathResults | undefined): number | undefined {
  const xs = (p?.copy ?? []).filter((r) => r.seconds !== undefined).map((r) => r.seconds!);
  return xs.length ? median(xs) : undefined;
}

function setupMs(p: PathResults | undefined): number | undefined {
  const xs = (p?.setup ?? []).flatMap((r) => (r.problem ? [] : r.samplesMs));
  return xs.length ? median(xs) : undefined;
}

function problems(runs: { problem?: string }[]): string {
  const ps = runs.map((r, i) => (r.problem ? `round ${i + 1}: ${r.problem}` : "")).filter(Boolean);
  return ps.length ? `FLAGGED ${ps.join("; ")}` : "";
}

function boundText(t: RatioTarget): string {
  return `${t.metric === "setup" ? "<=" : ">="} ${t.bound.toFixed(1)}x ssh -L`;
}

function targetText(path: PathId, metric: TargetMetric): string {
  const t = RATIO_TARGETS.find((x) => x.path === path && x.metric === metric);
  return t ? boundText(t) : "";
}

function metricValue(p: PathResults | undefined, metric: TargetMetric): number | undefined {
  if (metric === "copy") return copyMbps(p);
  if (metric === "setup") return setupMs(p);
  return medianTps(p, Number(metric.slice(1)));
}

function measuredRatio(r: BenchResults, t: RatioTarget): number {
  return ratio(metricValue(r.paths[t.path], t.metric), metricValue(r.paths.ssh, t.metric));
}

function targetMet(t: RatioTarget, measured: number): boolean | undefined {
  if (!Number.isFinite(measured)) return undefined;
  return t.metric === "setup" ? measured <= t.bound : measured >= t.bound;
}

function verdict(ok: boolean | undefined): string {
  if (ok === undefined) return "not measured";
  return ok ? "met" : "MISSED";
}

function pathIds(r: BenchResults): PathId[] {
  return r.options.paths.filter((p) => r.paths[p] !== undefined);
}

/** Median over rounds of `f` (skipping runs it has no figure for). */
function medianOf<T>(runs: T[], f: (x: T) => number | undefined): number | undefined {
  const xs = runs.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return xs.length ? median(xs) : undefined;
}

/** The client count the CPU table uses: 4 when measured, else the first. */
function cpuClients(r: BenchResults): number {
  return r.options.clients.includes(4) ? 4 : r.options.clients[0];
}

/** Median over rounds of `role`'s CPU seconds per 10,000 transactions at `clients`. */
function cpuPer10kTx(
  p: PathResults | undefined,
  role: string,
  clients: number,
): number | undefined {
  return medianOf(
    p?.pgbench[clients] ?? [],
    (x) =>
      x.summary && x.cpu?.[role] !== undefined && x.summary.processed > 0
        ? (x.cpu[role] * 10_000) / x.summary.processed
        : undefined,
  );
}

/**
 * CPU per process on each path: seconds per 10,000 pgbench transactions and
 * per GB of COPY, medians of the rounds (scripts/bench/cpu.ts).
 */
function cpuTable(r: BenchResults, ids: PathId[]): Table {
  const c = cpuClients(r);
  const rows: string[][] = [];
  let sshd: number | undefined;
  for (const id of ids) {
    const p = r.paths[id]!;
    const roles = [
      ...new Set([...(p.pgbench[c] ?? []), ...p.copy].flatMap((x) => Object.keys(x.cpu ?? {}))),
    ];
    for (const role of roles) {
      const perTx = cpuPer10kTx(p, role, c);
      const perGb = medianOf(
        p.copy,
        (x) => x.bytes && x.cpu?.[role] !== undefined ? x.cpu[role] / (x.bytes / 1e9) : undefined,
      );
      if (id === "ssh" && role === "sshd") sshd = perTx;
      rows.push([label(id), role, fmt(perTx, 3), fmt(perGb, 2)]);
    }
  }
  for (const row of rows) {
    if (row[1] !== "gateway") continue;
    const v = Number(row[2].replaceAll(",", ""));
    row.push(
      sshd === undefined || !Number.isFinite(v)
        ? "-"
        : v <= sshd
        ? "met (<= sshd)"
        : "MISSED (> sshd)",
    );
  }
  return {
    title: `CPU per process: pgbench -S -c ${c} and COPY`,
    note: "CPU seconds (user + system, the process and its children, from /proc/PID/stat) " +
      "per 10,000 transactions and per GB carried, medians of the rounds; lower is better. " +
      "Target: the gateway's CPU per 10,000 transactions at most sshd's.",
    headers: ["path", "process", "CPU s / 10k tx", "CPU s / GB", "target"],
    rows: rows.map((row) => (row.length === 4 ? [...row, ""] : row)),
  };
}

/** The tables of a bench run, in report order. */
export function buildTables(r: BenchResults): Table[] {
  const tables: Table[] = [];
  const ids = pathIds(r);
  const direct = r.paths.direct;
  const ssh = r.paths.ssh;

  for (const c of r.options.clients) {
    tables.push({
      title: `pgbench -S -n -c ${c} -j ${Math.min(c, 2)} -T ${r.options.seconds}`,
      note: "TPS, higher is better; ratios are TPS / TPS of the reference path.",
      headers: [
        "path",
        "TPS",
        "avg latency ms",
        "TPS per round",
        "x direct",
        "x ssh -L",
        "target",
        "flags",
      ],
      rows: ids.map((id) => {
        const p = r.paths[id]!;
        const tps = medianTps(p, c);
        const runs = p.pgbench[c] ?? [];
        return [
          label(id),
          fmt(tps),
          fmt(medianLatency(p, c), 3),
          runs.map((x) => (x.summary ? fmt(x.summary.tps) : "-")).join(" / "),
          fmtRatio(ratio(tps, medianTps(direct, c))),
          fmtRatio(ratio(tps, medianTps(ssh, c))),
          c === 1 || c === 4 || c === 16 ? targetText(id, `c${c}`) : "",
          problems(runs),
        ];
      }),
    });
  }

  tables.push({
    title: `COPY out, ${r.options.copyMb} MB through psql to /dev/null`,
    note: "MB/s (10^6 bytes), higher is better; ratios are MB/s / MB/s of the reference path.",
    headers: [
      "path",
      "MB/s",
      "seconds",
      "seconds per round",
      "x direct",
      "x ssh -L",
      "target",
      "flags",
    ],
    rows: ids.map((id) => {
      const p = r.paths[id]!;
      const mbps = copyMbps(p);
      return [
        label(id),
        fmt(mbps),
        fmt(copySeconds(p), 2),
        p.copy.map((x) => fmt(x.seconds, 2)).join(" / "),
        fmtRatio(ratio(mbps, copyMbps(direct))),
        fmtRatio(ratio(mbps, copyMbps(ssh))),
        targetText(id, "copy"),
        problems(p.copy),
      ];
    }),
  });

  tables.push({
    title:
      `Session set-up: psql -c 'select 1' wall time, ${r.options.setupRuns} per path and round`,
    note: "Milliseconds, lower is better; ratios are time / time of the reference path " +
      "(above 1 = slower). Includes psql's own start and the SCRAM login to PostgreSQL. " +
      "The paths take turns one psql at a time, so a burst of noise hits them all.",
    headers: [
      "path",
      "median ms",
      "p90 ms",
      "median per round",
      "x direct",
      "x ssh -L",
      "target",
      "flags",
    ],
    rows: ids.map((id) => {
      const p = r.paths[id]!;
      const ms = setupMs(p);
      const all = p.setup.flatMap((x) => x.samplesMs);
      return [
        label(id),
        fmt(ms, 1),
        fmt(all.length ? percentile(all, 90) : undefined, 1),
        p.setup.map((x) => fmt(x.medianMs, 1)).join(" / "),
        fmtRatio(ratio(ms, setupMs(direct))),
        fmtRatio(ratio(ms, setupMs(ssh))),
        targetText(id, "setup"),
        problems(p.setup),
      ];
    }),
  });

  tables.push(cpuTable(r, ids));

  if (r.exec) {
    const xs = r.exec.samplesMs;
    tables.push({
      title: "hoop exec of a trivial command (plain gateway, command connection running cat)",
      note: "Wall time of the whole CLI process (Deno start, API call, data session, exit), ms.",
      headers: ["runs", "p50 ms", "p99 ms", "min ms", "max ms", "flags"],
      rows: [[
        String(xs.length),
        fmt(xs.length ? percentile(xs, 50) : undefined, 0),
        fmt(xs.length ? percentile(xs, 99) : undefined, 0),
        fmt(xs.length ? Math.min(...xs) : undefined, 0),
        fmt(xs.length ? Math.max(...xs) : undefined, 0),
        r.exec.problem ? `FLAGGED ${r.exec.problem}` : "",
      ]],
    });
  }

  if (r.scale.length) {
    tables.push({
      title: "Agent scale: one gateway process, N agents in the bench process",
      note: `Each point on a fresh gateway. CPU over a ${r.options.idleSeconds} s idle window ` +
        "(heartbeats only). gRPC conns = established TCP connections on the gateway's gRPC port " +
        (r.options.sharedGrpc
          ? "(--shared-grpc: the agents share grpc-js's one connection)."
          : "(one per agent, as separate agent processes would have)."),
      headers: [
        "agents",
        "all ONLINE s",
        "gateway RSS MB before",
        "after",
        "KB per agent",
        "gateway CPU s to ONLINE",
        "gateway CPU s idle",
        "agents CPU s idle",
        "bench KB per agent",
        "gRPC conns",
        "flags",
      ],
      rows: r.scale.map((s) => [
        fmt(s.agents),
        fmt(s.onlineSeconds, 2),
        fmt(s.gatewayRssBeforeMb, 1),
        fmt(s.gatewayRssAfterMb, 1),
        fmt(s.gatewayKbPerAgent, 1),
        fmt(s.gatewayOnlineCpuSeconds, 2),
        fmt(s.gatewayIdleCpuSeconds, 2),
        fmt(s.agentsIdleCpuSeconds, 2),
        // One agent's share drowns in the bench process's own GC noise.
        s.agents >= 100 ? fmt(s.benchKbPerAgent, 1) : "-",
        fmt(s.grpcConnections),
        s.problem ? `FLAGGED ${s.problem}` : "",
      ]),
    });
  }

  const busy = r.scale.filter((s) => s.active);
  if (busy.length) {
    tables.push({
      title:
        "Active sessions at scale: sessions open and busy at once on one gateway with N agents",
      note: "Open = POST /api/sessions, the data port with the ticket, and the first echo back " +
        "through an agent (ms). Busy window: every session makes 50 request/answer turns of 64 " +
        "bytes at once; gateway CPU over that window, RSS at its end.",
      headers: [
        "agents",
        "sessions",
        "opened",
        "open p50 ms",
        "open p99 ms",
        "gateway RSS MB",
        "KB per session",
        "gateway CPU s",
        "window s",
        "round trips",
        "flags",
      ],
      rows: busy.map((s) => {
        const a = s.active!;
        return [
          fmt(s.agents),
          fmt(a.sessions),
          fmt(a.opened),
          fmt(a.openP50Ms, 1),
          fmt(a.openP99Ms, 1),
          fmt(a.gatewayRssMb, 1),
          fmt(a.gatewayKbPerSession, 1),
          fmt(a.gatewayCpuSeconds, 2),
          fmt(a.windowSeconds, 2),
          fmt(a.roundTrips),
          a.problem ? `FLAGGED ${a.problem}` : "",
        ];
      }),
    });
  }

  tables.push(targetTable(r));
  return tables;
}

/** The floor path of hoop path `id`, when it has one and this run measured it. */
function floorOf(r: BenchResults, id: PathId): PathId | undefined {
  const floor = (FLOOR_OF as Partial<Record<PathId, PathId>>)[id];
  return floor && r.paths[floor] ? floor : undefined;
}

/** Gateway CPU per 10,000 transactions at most sshd's, for each path through the gateway. */
function cpuTargetRows(r: BenchResults): string[][] {
  const c = cpuClients(r);
  const perTx = (id: PathId, role: string) => cpuPer10kTx(r.paths[id], role, c);
  const sshd = perTx("ssh", "sshd");
  return pathIds(r).filter((id) =>
    r.paths[id]?.pgbench[c]?.some((x) => x.cpu?.gateway !== undefined)
  )
    .map((id) => {
      const gw = perTx(id, "gateway");
      const floor = floorOf(r, id);
      const bare = floor ? perTx(floor, "bare gateway") : undefined;
      return [
        `${label(id)} gateway CPU s per 10k tx (c${c}) <= sshd's`,
        gw !== undefined && sshd !== undefined ? `${fmt(gw, 3)} vs ${fmt(sshd, 3)}` : "-",
        verdict(gw !== undefined && sshd !== undefined ? gw <= sshd : undefined),
        floor ? fmt(bare, 3) : "",
        floor ? fmtRatio(ratio(gw, bare)) : "",
      ];
    });
}

function targetTable(r: BenchResults): Table {
  const rows: string[][] = [];
  for (const t of RATIO_TARGETS) {
    if (!r.options.paths.includes(t.path)) continue;
    const m = measuredRatio(r, t);
    const floor = floorOf(r, t.path);
    const bare = floor ? measuredRatio(r, { ...t, path: floor }) : undefined;
    rows.push([
      `${label(t.path)} ${METRIC_TEXT[t.metric]} ${boundText(t)}`,
      fmtRatio(m),
      verdict(targetMet(t, m)),
      bare === undefined ? "" : fmtRatio(bare),
      bare === undefined ? "" : fmtRatio(m / bare),
    ]);
  }
  rows.push(...cpuTargetRows(r));
  const at = r.scale.find((s) => s.agents === TARGET_AGENTS);
  rows.push([
    `${TARGET_AGENTS} agents ONLINE within ${TARGET_ONLINE_SECONDS} s`,
    at?.onlineSeconds !== undefined
      ? `${fmt(at.onlineSeconds, 2)} s`
      : at
      ? at.problem ?? "-"
      : "-",
    verdict(at ? (at.onlineSeconds ?? Infinity) <= TARGET_ONLINE_SECONDS : undefined),
  ]);
  rows.push([
    `gateway RSS with ${TARGET_AGENTS} agents <= ${TARGET_GATEWAY_RSS_MB} MB`,
    at ? `${fmt(at.gatewayRssAfterMb, 1)} MB` : "-",
    verdict(at ? at.gatewayRssAfterMb <= TARGET_GATEWAY_RSS_MB : undefined),
  ]);
  rows.push([
    `idle agent RSS <= ${TARGET_AGENT_RSS_MB} MB (standalone hoop run process)`,
    r.standalone ? `${fmt(r.standalone.rssMb, 1)} MB` : "-",
    verdict(r.standalone ? r.standalone.rssMb <= TARGET_AGENT_RSS_MB : undefined),
  ]);
  return {
    title: "Targets",
    note: "From the issue; TLS rows hold the TLS paths to the same bar. floor = the same " +
      "measure on the path's bare relays (scripts/bench/floor.ts: hoop's listeners, dialer and " +
      "splice with no session, audit or protocol logic); x floor = hoop / floor, the share " +
      "hoop's own work leaves (for set-up, above 1 = slower).",
    headers: ["target", "measured", "result", "floor", "x floor"],
    rows: rows.map((row) => (row.length === 3 ? [...row, "", ""] : row)),
  };
}

/** Render a table as aligned plain text. */
export function renderTextTable(t: Table): string {
  const widths = t.headers.map((h, i) =>
    Math.max(h.length, ...t.rows.map((r) => (r[i] ?? "").length))
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => (c ?? "").padEnd(widths[i])).join("  ").trimEnd();
  return [
    t.title,
    ...(t.note ? [t.note] : []),
    line(t.headers),
    line(widths.map((w) => "-".repeat(w))),
    ...t.rows.map(line),
  ].join("\n");
}

function mdCell(text: string): string {
  return text.replaceAll("|", "\\|");
}

/** Render a table as Markdown (a level-3 heading, the note, the table). */
export function renderMarkdownTable(t: Table): string {
  return [
    `### ${t.title}`,
    "",
    ...(t.note ? [t.note, ""] : []),
    `| ${t.headers.map(mdCell).join(" | ")} |`,
    `| ${t.headers.map(() => "---").join(" | ")} |`,
    ...t.rows.map((row) => `| ${row.map(mdCell).join(" | ")} |`),
  ].join("\n");
}

/** The terminal report. */
export function renderText(r: BenchResults): string {
  const parts = buildTables(r).map(renderTextTable);
  if (r.standalone) {
    parts.push(
      `Standalone agent (hoop run --tcp, idle): RSS ${fmt(r.standalone.rssMb, 1)} MB, ` +
        `peak ${fmt(r.standalone.peakRssMb, 1)} MB`,
    );
  }
  if (r.problems.length) parts.push(`Problems:\n${r.problems.map((p) => `- ${p}`).join("\n")}`);
  return parts.join("\n\n") + "\n";
}

/** docs/BENCHMARKS.md. */
export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  const o = r.options;
  const lines = [
    "# Benchmarks",
    "",
    "Generated by `deno task bench` (scripts/bench/); rerun it to refresh this file.",
    "Everything runs on one machine over loopback, so client, relays and server share the CPUs:",
    "the figures are relative costs, not capacity. The paths run interleaved in rounds",
    "(round r: every path for one metric, then the next metric) and medians are reported.",
    "",
    "## Command and machine",
    "",
    "```sh",
    r.command,
    "```",
    "",
    "| | |",
    "| --- | --- |",
    `| date | ${r.startedAt.toISOString()} (took ${fmt(r.durationSeconds / 60, 1)} min) |`,
    `| CPU | ${m.nproc} x ${mdCell(m.cpuModel)} |`,
    `| memory | ${fmt(m.memoryGb, 1)} GB |`,
    `| kernel | ${m.kernel} |`,
    `| Deno | ${m.deno} |`,
    `| PostgreSQL | ${mdCell(r.postgresVersion)} |`,
    `| OpenSSH | ${r.ssh ? `${mdCell(r.ssh.version)}; cipher ${r.ssh.cipher}` : "not used"} |`,
    `| load average at start | ${m.loadAverage} |`,
    `| rounds / pgbench -T / COPY | ${o.rounds} / ${o.seconds} s / ${o.copyMb} MB |`,
    "",
    "## Paths",
    "",
    "| path | what the client talks to |",
    "| --- | --- |",
    "| direct | PostgreSQL itself (SCRAM login) |",
    "| ssh -L | `ssh -N -L` to a local OpenSSH `sshd` that connects to PostgreSQL |",
    "| hoop connect | `hoop connect pgdemo` (CLI) -> gateway -> embedded agent (`hoop run --postgres`) -> PostgreSQL |",
    "| hoop connect (TLS) | the same against a gateway with `--tls-cert`: gRPC and data connections over TLS |",
    "| gateway listener | the gateway's `--postgres-listen` port (user = hoop email, password = hoop token) -> agent -> PostgreSQL |",
    "| gateway listener (TLS) | the TLS gateway's listener: the client leg is TLS too (`sslmode=require`, upgraded after SSLRequest), gateway <-> agent is TLS |",
    "",
    "Every psql/pgbench run uses `PGSSLMODE=disable` so no path pays an SSLRequest round trip, except the TLS listener's (`require`: it refuses passwords in clear).",
    "",
    "## Results",
    "",
    ...buildTables(r).flatMap((t) => [renderMarkdownTable(t), ""]),
  ];
  if (r.standalone) {
    lines.push(
      "### Idle agent",
      "",
      `One standalone \`hoop run --tcp\` agent process, after ${o.idleSeconds} s idle: RSS ` +
        `${fmt(r.standalone.rssMb, 1)} MB (peak ${fmt(r.standalone.peakRssMb, 1)} MB).`,
      "",
    );
  }
  if (r.problems.length) {
    lines.push("## Problems", "", ...r.problems.map((p) => `- ${p}`), "");
  }
  return lines.join("\n");
}

import assert from "node:assert/strict";
import { parseBenchArgs } from "./options.ts";
import type { PgbenchRun } from "./pgbench.ts";
import {
  type BenchResults,
  buildTables,
  type PathResults,
  renderMarkdown,
  renderText,
} from "./report.ts";

function pg(tps: number, problem?: string): PgbenchRun {
  return { summary: { tps, latencyMs: 1, processed: tps, failed: 0, aborted: false }, problem };
}

function path(c4: number, mbps: number, extra: Partial<PathResults> = {}): PathResults {
  return {
    pgbench: { 1: [pg(c4 / 2)], 4: [pg(c4)], 16: [pg(c4)] },
    copy: [{ seconds: 500 / mbps, mbPerSecond: mbps }],
    setup: [{ medianMs: 10, samplesMs: [10] }],
    ...extra,
  };
}

function results(): BenchResults {
  const options = parseBenchArgs(["--rounds", "1", "--paths", "direct,ssh,connect,listener"]);
  return {
    options,
    command: "deno task bench --rounds 1",
    machine: {
      nproc: 2,
      cpuModel: "Test CPU",
      memoryGb: 8,
      kernel: "linux 6",
      deno: "2.9.6",
      loadAverage: "0.1 0.1 0.1",
    },
    startedAt: new Date("2026-01-02T03:04:05Z"),
    durationSeconds: 60,
    postgresVersion: "PostgreSQL 15.18",
    ssh: { version: "OpenSSH_9.2p1", cipher: "chacha20-poly1305@openssh.com" },
    paths: {
      direct: path(35_000, 800),
      ssh: path(10_000, 400),
      connect: path(8_500, 500),
      listener: path(9_000, 300, {
        pgbench: { 1: [pg(1)], 4: [pg(9_000)], 16: [pg(5, "3 failed transactions")] },
      }),
    },
    scale: [],
    problems: [],
  };
}

Deno.test("buildTables() gives every path its ratio to direct and to ssh -L", () => {
  const c4 = buildTables(results()).find((t) => t.title.startsWith("pgbench -S -n -c 4"))!;
  const row = c4.rows.find((r) => r[0] === "hoop connect")!;
  assert.equal(row[1], "8,500");
  assert.equal(row[4], "0.24x");
  assert.equal(row[5], "0.85x");
  assert.equal(row[6], ">= 0.8x ssh -L");
});

Deno.test("buildTables() flags failed transactions and leaves them out of the median", () => {
  const c16 = buildTables(results()).find((t) => t.title.startsWith("pgbench -S -n -c 16"))!;
  const row = c16.rows.find((r) => r[0] === "gateway listener")!;
  assert.equal(row[1], "-");
  assert.match(row[7], /FLAGGED round 1: 3 failed transactions/);
});

Deno.test("the Targets table says met, MISSED or not measured", () => {
  const targets = buildTables(results()).find((t) => t.title === "Targets")!;
  const verdicts = Object.fromEntries(targets.rows.map((r) => [r[0], r[2]]));
  assert.equal(verdicts["hoop connect pgbench -S -c 4 >= 0.8x ssh -L"], "met");
  assert.equal(verdicts["hoop connect COPY >= 1.0x ssh -L"], "met");
  assert.equal(verdicts["gateway listener pgbench -S -c 4 >= 1.0x ssh -L"], "MISSED");
  assert.equal(verdicts["1000 agents ONLINE within 10 s"], "not measured");
});

Deno.test("renderMarkdown() holds the machine, the command and the same tables as the text", () => {
  const r = results();
  const md = renderMarkdown(r);
  assert.match(md, /\| CPU \| 2 x Test CPU \|/);
  assert.match(md, /deno task bench --rounds 1/);
  assert.match(md, /\| hoop connect \| 8,500 \|/);
  assert.match(renderText(r), /hoop connect\s+8,500/);
});

Deno.test("the CPU table gives each process per 10,000 transactions and per GB, and the gateway against sshd", () => {
  const r = results();
  const ssh = r.paths.ssh!;
  ssh.pgbench[4] = [{ ...pg(10_000), cpu: { ssh: 0.5, sshd: 1.0 } }];
  ssh.copy = [{ seconds: 1, mbPerSecond: 500, bytes: 500e6, cpu: { ssh: 0.2, sshd: 0.3 } }];
  const listener = r.paths.listener!;
  listener.pgbench[4] = [{ ...pg(20_000), cpu: { gateway: 1.0, agent: 3.0 } }];
  const cpu = buildTables(r).find((t) => t.title.startsWith("CPU per process"))!;
  const row = (path: string, proc: string) => cpu.rows.find((x) => x[0] === path && x[1] === proc)!;
  assert.deepEqual(row("ssh -L", "sshd").slice(2, 4), ["1.000", "0.60"]);
  // 1.0 s over 20,000 transactions: 0.5 s per 10,000, below sshd's 1.0.
  assert.deepEqual(row("gateway listener", "gateway").slice(2), ["0.500", "-", "met (<= sshd)"]);
  assert.equal(row("gateway listener", "agent")[2], "1.500");
});

Deno.test("the Targets table sets each hoop path beside its floor of bare relays", () => {
  const r = results();
  r.options = parseBenchArgs([
    "--rounds",
    "1",
    "--paths",
    "direct,ssh,connect,listener,floor-listener",
  ]);
  r.paths.ssh!.pgbench[4] = [{ ...pg(10_000), cpu: { ssh: 0.3, sshd: 0.4 } }];
  r.paths.listener!.pgbench[4] = [{ ...pg(9_000), cpu: { gateway: 0.9, agent: 0.5 } }];
  r.paths["floor-listener"] = path(12_000, 600, {
    pgbench: { 1: [pg(6_000)], 4: [{ ...pg(12_000), cpu: { "bare gateway": 0.6 } }], 16: [] },
  });
  const targets = buildTables(r).find((t) => t.title === "Targets")!;
  assert.deepEqual(targets.headers, ["target", "measured", "result", "floor", "x floor"]);
  const row = (name: string) => targets.rows.find((x) => x[0] === name)!.slice(1);
  // 9,000 TPS against ssh -L's 10,000 and the floor's 12,000.
  assert.deepEqual(row("gateway listener pgbench -S -c 4 >= 1.0x ssh -L"), [
    "0.90x",
    "MISSED",
    "1.20x",
    "0.75x",
  ]);
  // 0.9 s over 9,000 transactions against the bare gateway's 0.6 s over 12,000.
  assert.deepEqual(row("gateway listener gateway CPU s per 10k tx (c4) <= sshd's"), [
    "1.000 vs 0.400",
    "MISSED",
    "0.500",
    "2.00x",
  ]);
  // No floor measured for hoop connect: its columns stay empty.
  assert.deepEqual(row("hoop connect pgbench -S -c 4 >= 0.8x ssh -L").slice(2), ["", ""]);
  const c4 = buildTables(r).find((t) => t.title.startsWith("pgbench -S -n -c 4"))!;
  assert.equal(c4.rows.find((x) => x[0] === "bare relays, listener's hops")![5], "1.20x");
});

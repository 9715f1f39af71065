/**
 * `deno task bench:mysql` (or `deno run -A scripts/bench/mysql.ts`): MySQL
 * paths on loopback against a throwaway MariaDB, direct, through `ssh -L`
 * and through `hoop connect` (embedded agent, `hoop run --mysql`): point
 * selects by primary key (prepared, `npm:mysql2`) at 1/4/16 clients, and a
 * bulk read of the whole table. Prints a Markdown table; docs/BENCHMARKS.md
 * is not touched. Everything started is stopped again, also on SIGINT.
 *
 * Options: `--seconds N` per point-select run (default 10), `--clients
 * 1,4,16`, `--rows N` in the table (default 200000), `--paths
 * direct,ssh,connect`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import mysql from "mysql2/promise";
import {
  hoopOk,
  signupAdmin,
  spawnHoop,
  startConnect,
  startGateway,
} from "../../tests/_harness.ts";
import { startMariaDb } from "../../tests/_mariadb.ts";
import { defer, runCleanup } from "./proc.ts";
import { startSshTunnel } from "./sshd.ts";
import { median, percentile } from "./stats.ts";

/** The measured paths. */
export const MYSQL_PATHS = ["direct", "ssh", "connect"] as const;
type MysqlPath = typeof MYSQL_PATHS[number];
const LABELS: Record<MysqlPath, string> = {
  direct: "direct",
  ssh: "ssh -L",
  connect: "hoop connect",
};
/** Name of the published connection. */
const CONNECTION = "mydemo";

interface Target {
  port: number;
  user: string;
  password: string;
}

/** One point-select run: queries per second and latencies in ms. */
export interface PointSelectResult {
  clients: number;
  qps: number;
  p50: number;
  p95: number;
}

/** `clients` connections each running the prepared point select in a loop for `seconds`. */
export async function pointSelects(
  t: Target,
  clients: number,
  seconds: number,
  rows: number,
): Promise<PointSelectResult> {
  const conns = await Promise.all(
    Array.from({ length: clients }, () => connect(t)),
  );
  const latencies: number[] = [];
  let count = 0;
  const until = performance.now() + seconds * 1000;
  try {
    await Promise.all(conns.map(async (c) => {
      while (performance.now() < until) {
        const id = 1 + Math.floor(Math.random() * rows);
        const started = performance.now();
        await c.execute("SELECT v FROM kv WHERE id = ?", [id]);
        latencies.push(performance.now() - started);
        count++;
      }
    }));
  } finally {
    await Promise.all(conns.map((c) => c.end().catch(() => {})));
  }
  return {
    clients,
    qps: count / seconds,
    p50: median(latencies),
    p95: percentile(latencies, 95),
  };
}

/** Read the whole table once; resolves with MB/s of row data and the seconds taken. */
export async function bulkRead(t: Target): Promise<{ mbPerS: number; seconds: number }> {
  const c = await connect(t);
  try {
    const started = performance.now();
    const [rows] = await c.query({ sql: "SELECT id, v FROM kv", rowsAsArray: true });
    const seconds = (performance.now() - started) / 1000;
    let bytes = 0;
    for (const r of rows as [number, string][]) bytes += 8 + r[1].length;
    return { mbPerS: bytes / 1e6 / seconds, seconds };
  } finally {
    await c.end().catch(() => {});
  }
}

function connect(t: Target) {
  return mysql.createConnection({
    host: "127.0.0.1",
    port: t.port,
    user: t.user,
    password: t.password,
    database: "bench",
    connectTimeout: 30_000,
  });
}

async function probe(t: Target): Promise<boolean> {
  try {
    const c = await connect(t);
    await c.query("SELECT 1");
    await c.end();
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "10" },
      clients: { type: "string", default: "1,4,16" },
      rows: { type: "string", default: "200000" },
      paths: { type: "string", default: MYSQL_PATHS.join(",") },
    },
  });
  const seconds = Number(values.seconds);
  const rows = Number(values.rows);
  const clients = values.clients.split(",").map(Number);
  const paths = values.paths.split(",") as MysqlPath[];
  if (!(seconds > 0) || !(rows > 0) || clients.some((c) => !(c > 0))) {
    throw new Error("--seconds, --rows and --clients take positive numbers");
  }
  for (const p of paths) {
    if (!MYSQL_PATHS.includes(p)) throw new Error(`unknown path "${p}": use ${MYSQL_PATHS}`);
  }
  console.error("bench: starting MariaDB");
  const db = await startMariaDb();
  defer("MariaDB", () => db.stop());
  const password = crypto.randomUUID();
  const url = await db.createUser("bench", password, { db: "bench" });
  await db.sql("CREATE TABLE bench.kv (id INT PRIMARY KEY, v VARCHAR(100) NOT NULL)");
  // MariaDB's SEQUENCE engine generates the ids.
  await db.sql(
    `INSERT INTO bench.kv SELECT seq, REPEAT(CHAR(97 + seq % 26), 100) FROM bench.seq_1_to_${rows}`,
  );
  const version = (await db.sql("SELECT VERSION()")).trim();
  const targets = new Map<MysqlPath, Target>();
  const direct = { port: db.port, user: "bench", password };
  if (paths.includes("direct")) targets.set("direct", direct);
  if (paths.includes("ssh")) {
    console.error("bench: starting sshd and ssh -L");
    const ssh = await startSshTunnel(db.port, (port) => probe({ ...direct, port }));
    targets.set("ssh", { ...direct, port: ssh.port });
  }
  if (paths.includes("connect")) {
    console.error("bench: starting a gateway, hoop run --mysql and hoop connect");
    const gw = await startGateway({ name: "mysql bench gateway" });
    defer("gateway", async () => {
      await gw.stop();
      await Deno.remove(gw.dataDir, { recursive: true }).catch(() => {});
    });
    const admin = await signupAdmin(gw);
    defer("CLI home", () => Deno.remove(admin.env.HOOP_HOME, { recursive: true }));
    const orgKey = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout
      .trim();
    const agent = spawnHoop("mysql agent", ["run", "--name", CONNECTION, "--mysql", url], {
      env: { HOOP_KEY: orgKey },
    });
    defer("agent", () => agent.stop());
    await agent.log.waitFor(/connected to the gateway/, 30_000);
    const tunnel = await startConnect(CONNECTION, { env: admin.env });
    defer("hoop connect", () => tunnel.stop());
    targets.set("connect", { port: tunnel.port, user: "anyone", password: "anything" });
  }

  const lines = [
    `MariaDB ${version}, ${rows} rows of 100 bytes, point selects for ${seconds} s each`,
    "",
    "| path | clients | queries/s | p50 ms | p95 ms |",
    "| ---- | ------: | --------: | -----: | -----: |",
  ];
  const bulk: string[] = ["", "| path | bulk read MB/s | seconds |", "| ---- | ---: | ---: |"];
  for (const c of clients) {
    for (const [id, t] of targets) {
      const r = await pointSelects(t, c, seconds, rows);
      console.error(`bench: ${LABELS[id]} -c ${c}: ${Math.round(r.qps)} queries/s`);
      lines.push(
        `| ${LABELS[id]} | ${c} | ${Math.round(r.qps)} | ${r.p50.toFixed(2)} | ${
          r.p95.toFixed(2)
        } |`,
      );
    }
  }
  for (const [id, t] of targets) {
    const r = await bulkRead(t);
    console.error(`bench: ${LABELS[id]} bulk read: ${r.mbPerS.toFixed(1)} MB/s`);
    bulk.push(`| ${LABELS[id]} | ${r.mbPerS.toFixed(1)} | ${r.seconds.toFixed(2)} |`);
  }
  console.log([...lines, ...bulk].join("\n"));
}

if (import.meta.main) {
  const stop = async () => {
    await runCleanup();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    await main();
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : err}`);
    Deno.exitCode = 1;
  } finally {
    await runCleanup();
  }
  Deno.exit();
}

/**
 * Everything the path measurements run against: a throwaway PostgreSQL with a
 * pgbench database, the `ssh -L` baseline, and hoop gateways (plain and TLS)
 * each with an embedded agent, a `hoop connect` tunnel and a PostgreSQL
 * listener. Every piece registers its own clean-up.
 *
 * @module
 */
import { join } from "node:path";
import {
  type GatewayProcess,
  hoopOk,
  type Identity,
  signupAdmin,
  spawnHoop,
  startConnect,
  startGateway,
  waitFor,
} from "../../tests/_harness.ts";
import { startPostgres } from "../../tests/_postgres.ts";
import { makeTestCerts } from "../../tests/_tls.ts";
import { defer, mustRunTool, runTool } from "./proc.ts";
import { type SshTunnel, startSshTunnel } from "./sshd.ts";
import { type FloorPathId, startFloorChain } from "./floor.ts";
import {
  FLOOR_PATHS,
  PATH_LABELS,
  type PathId,
  pgEnv,
  type PgTarget,
  psqlArgs,
} from "./targets.ts";

/** The pgbench scale factor of the bench database (10 = 1M accounts rows, ~160 MB). */
export const PGBENCH_SCALE = 10;

/** Name of the PostgreSQL connection each gateway publishes. */
export const PG_CONNECTION = "pgdemo";
/** Name of the command connection `hoop exec` runs. */
export const CMD_CONNECTION = "cmd";

/** What the measurements run against. */
export interface BenchSetup {
  targets: Map<PathId, PgTarget>;
  /** `hoop exec` target on the plain gateway, when asked for. */
  exec?: { name: string; env: Record<string, string> };
  postgresVersion: string;
  ssh?: SshTunnel;
}

function randomPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** Whether `select 1` answers through `target`. */
export async function probe(target: PgTarget): Promise<boolean> {
  const r = await runTool("psql", ["-X", "-At", ...psqlArgs(target), "-c", "select 1"], {
    env: pgEnv(target),
    timeoutMs: 15_000,
  });
  return r.code === 0 && r.stdout.trim() === "1";
}

/** One hoop gateway with its admin, embedded agents and tunnels. */
interface HoopSide {
  gatewayPid: number;
  agentPid: number;
  connectPid?: number;
  connectPort?: number;
  listenerPort?: number;
  admin: Identity;
  token: string;
}

async function startHoopSide(
  name: string,
  pgUrl: string,
  opts: { tls: boolean; connect: boolean; listener: boolean; exec: boolean },
): Promise<HoopSide> {
  let env: Record<string, string> = {};
  const args = opts.listener ? ["--postgres-listen", "127.0.0.1:0"] : [];
  let grpcPort: number | undefined;
  let caFile: string | undefined;
  if (opts.tls) {
    const certs = await makeTestCerts();
    defer(`${name} certificates`, () => certs[Symbol.asyncDispose]());
    caFile = certs.caCertFile;
    // The DSNs the gateway hands out must say grpcs://, so its public URL is fixed up front.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    grpcPort = (l.addr as Deno.NetAddr).port;
    l.close();
    env = { HOOP_GRPC_URL: `grpcs://127.0.0.1:${grpcPort}` };
    args.push("--tls-cert", certs.certFile, "--tls-key", certs.keyFile);
  }
  const gw: GatewayProcess = await startGateway({
    name,
    args,
    env,
    ports: grpcPort ? { grpc: grpcPort, api: 0, data: 0 } : undefined,
  });
  defer(name, async () => {
    await gw.stop();
    await Deno.remove(gw.dataDir, { recursive: true }).catch(() => {});
  });
  const tlsEnv: Record<string, string> = caFile ? { HOOP_TLSCA: caFile } : {};
  const admin = await signupAdmin({ ...gw, env: { ...gw.env, ...tlsEnv } });
  defer(`${name} CLI home`, () => Deno.remove(admin.env.HOOP_HOME, { recursive: true }));
  const config = JSON.parse(await Deno.readTextFile(join(admin.env.HOOP_HOME, "config.json")));
  const orgKey = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();

  const agent = spawnHoop(`${name} agent`, ["run", "--name", PG_CONNECTION, "--postgres", pgUrl], {
    env: { HOOP_KEY: orgKey, ...tlsEnv },
  });
  defer(`${name} agent`, () => agent.stop());
  await agent.log.waitFor(/connected to the gateway/, 30_000);
  if (opts.exec) {
    const cmd = spawnHoop(`${name} cmd agent`, [
      "run",
      "--name",
      CMD_CONNECTION,
      "--command",
      "cat",
    ], {
      env: { HOOP_KEY: orgKey, ...tlsEnv },
    });
    defer(`${name} cmd agent`, () => cmd.stop());
    await cmd.log.waitFor(/connected to the gateway/, 30_000);
  }

  const side: HoopSide = {
    admin,
    token: String(config.token ?? ""),
    gatewayPid: gw.pid,
    agentPid: agent.pid,
  };
  if (opts.connect) {
    const tunnel = await startConnect(PG_CONNECTION, { env: admin.env });
    defer(`${name} hoop connect`, () => tunnel.stop());
    side.connectPort = tunnel.port;
    side.connectPid = tunnel.pid;
  }
  if (opts.listener) {
    const m = await gw.log.waitFor(/listening for PostgreSQL clients on 127\.0\.0\.1:(\d+)/);
    side.listenerPort = Number(m[1]);
  }
  return side;
}

/** Start what the selected `paths` (and `hoop exec`, when `exec`) need. */
export async function setUp(paths: readonly PathId[], exec: boolean): Promise<BenchSetup> {
  const has = (id: PathId) => paths.includes(id);
  console.error("bench: starting PostgreSQL");
  const pg = await startPostgres({ auth: "scram-sha-256" });
  defer("PostgreSQL", () => pg.stop());
  const password = randomPassword();
  const benchUrl = await pg.createUser("bench", password, "bench");
  const direct: PgTarget = {
    id: "direct",
    port: pg.port,
    user: "bench",
    password,
    database: "bench",
  };
  console.error(`bench: pgbench -i -s ${PGBENCH_SCALE}`);
  await mustRunTool("initialize the pgbench tables", "pgbench", [
    "-i",
    "-q",
    "-s",
    String(PGBENCH_SCALE),
    "-h",
    "127.0.0.1",
    "-p",
    String(pg.port),
    "-U",
    "bench",
    "bench",
  ], { env: pgEnv(direct), timeoutMs: 600_000 });
  const version = await mustRunTool("read the server version", "psql", [
    "-X",
    "-At",
    ...psqlArgs(direct),
    "-c",
    "select version()",
  ], { env: pgEnv(direct) });

  const targets = new Map<PathId, PgTarget>();
  if (has("direct")) targets.set("direct", direct);
  const setup: BenchSetup = { targets, postgresVersion: version.stdout.trim() };

  if (has("ssh")) {
    console.error("bench: starting sshd and ssh -L");
    setup.ssh = await startSshTunnel(pg.port, (port) => probe({ ...direct, id: "ssh", port }));
    targets.set("ssh", {
      ...direct,
      id: "ssh",
      port: setup.ssh.port,
      procs: [{ role: "ssh", pid: setup.ssh.pids.ssh }, { role: "sshd", pid: setup.ssh.pids.sshd }],
    });
  }

  const sides: [boolean, PathId, PathId][] = [[false, "connect", "listener"], [
    true,
    "connect-tls",
    "listener-tls",
  ]];
  for (const [tls, connectId, listenerId] of sides) {
    const wantExec = exec && !tls;
    if (!has(connectId) && !has(listenerId) && !wantExec) continue;
    const name = tls ? "gateway-tls" : "gateway";
    console.error(`bench: starting hoop ${name}`);
    const side = await startHoopSide(name, benchUrl, {
      tls,
      connect: has(connectId),
      listener: has(listenerId),
      exec: wantExec,
    });
    if (side.connectPort) {
      // The tunnel ignores the client's user and password: the agent logs in with its own.
      targets.set(connectId, {
        id: connectId,
        port: side.connectPort,
        user: "bench",
        password: "anything",
        database: "bench",
        procs: [
          { role: "CLI", pid: side.connectPid! },
          { role: "gateway", pid: side.gatewayPid },
          { role: "agent", pid: side.agentPid },
        ],
      });
    }
    if (side.listenerPort) {
      targets.set(listenerId, {
        id: listenerId,
        port: side.listenerPort,
        user: side.admin.email,
        password: side.token,
        database: PG_CONNECTION,
        tls,
        procs: [{ role: "gateway", pid: side.gatewayPid }, { role: "agent", pid: side.agentPid }],
      });
    }
    if (wantExec) setup.exec = { name: CMD_CONNECTION, env: side.admin.env };
  }

  const floors = FLOOR_PATHS.filter(has) as FloorPathId[];
  if (floors.length) {
    const certs = await makeTestCerts();
    defer("floor relay certificates", () => certs[Symbol.asyncDispose]());
    for (const id of floors) {
      console.error(`bench: starting ${PATH_LABELS[id]}`);
      const chain = await startFloorChain(id, pg.port, certs);
      targets.set(id, { ...direct, id, port: chain.port, tls: chain.tls, procs: chain.procs });
    }
  }
  for (const t of targets.values()) {
    await waitFor(() => probe(t), {
      timeoutMs: 20_000,
      message: `no PostgreSQL answer on the ${t.id} path (port ${t.port})`,
    });
  }
  return setup;
}

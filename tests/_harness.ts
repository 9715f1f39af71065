/**
 * The vocabulary of hoop's end-to-end tests: real gateway and agent processes
 * (`deno run cli/main.ts ...`), the CLI as a subprocess, and `waitFor` with a
 * deadline instead of sleeps. Every process prints "listening ..." or
 * "connected ..." lines that the harness waits for; their logs are kept in
 * memory and added to any `waitFor` failure so a red test explains itself.
 *
 * @module
 */
import { join } from "node:path";
import { PERMISSIONS } from "../scripts/compile.ts";
import { fileURLToPath } from "node:url";
import type { Agent, Session, SessionEvent } from "../proto/api_types.ts";
import { closeQuietly, writeAll } from "../proto/bytes.ts";

/** Permissions of the hoop processes the tests start: those the compiled binary gets. */
export const HOOP_PERMISSIONS = PERMISSIONS;

/** `cli/main.ts` of this checkout. */
export const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));

/**
 * The argv that runs the hoop CLI. `HOOP_PROFILE_FLAGS` (space-separated Deno
 * flags such as `--cpu-prof --cpu-prof-dir=DIR`) goes before the script, to
 * profile the processes that tests and the bench start.
 */
export function hoopArgv(args: string[]): string[] {
  const extra = Deno.env.get("HOOP_PROFILE_FLAGS")?.split(" ").filter(Boolean) ?? [];
  return ["run", "--quiet", ...extra, ...HOOP_PERMISSIONS, MAIN, ...args];
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Processes whose logs go into `waitFor` failures. */
const liveLogs = new Set<LogBuffer>();

/** Lines a child wrote to stderr (and stdout), bounded. */
export class LogBuffer {
  readonly name: string;
  #text = "";
  #listeners = new Set<() => void>();
  /** Keep at most this much of a process's log in memory. */
  static readonly MAX_CHARS = 2 * 1024 * 1024;

  constructor(name: string) {
    this.name = name;
  }

  append(chunk: string): void {
    this.#text += chunk;
    if (this.#text.length > LogBuffer.MAX_CHARS) {
      this.#text = this.#text.slice(-LogBuffer.MAX_CHARS / 2);
    }
    if (Deno.env.get("HOOP_TEST_LOGS")) {
      Deno.stderr.writeSync(encoder.encode(chunk.replace(/^/gm, `[${this.name}] `)));
    }
    for (const l of this.#listeners) l();
  }

  get text(): string {
    return this.#text;
  }

  /** Wait until a line matches; returns the match. */
  async waitFor(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    let m: RegExpMatchArray | null = null;
    await waitFor(() => (m = this.#text.match(re)) !== null, {
      timeoutMs,
      message: `${this.name} never logged ${re}`,
    });
    return m!;
  }

  tail(lines = 30): string {
    return this.#text.split("\n").slice(-lines).join("\n");
  }
}

async function pump(stream: ReadableStream<Uint8Array>, log: LogBuffer): Promise<void> {
  const dec = new TextDecoder();
  for await (const chunk of stream) log.append(dec.decode(chunk, { stream: true }));
}

/** Poll `check` until it returns true (or a truthy value), or fail after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const logs = [...liveLogs].map((l) => `--- ${l.name} ---\n${l.tail()}`).join("\n");
      throw new Error(
        `Timed out after ${opts.timeoutMs ?? 10_000} ms: ${opts.message ?? "condition not met"}` +
          (lastErr ? `\nlast error: ${lastErr}` : "") + `\n${logs}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

/** A hoop process started by the harness. */
export interface HoopProcess extends AsyncDisposable {
  readonly pid: number;
  readonly log: LogBuffer;
  readonly status: Promise<Deno.CommandStatus>;
  /** Send a signal (default SIGTERM). */
  kill(signal?: Deno.Signal): void;
  /** SIGTERM, then wait for the exit (SIGKILL after 5 s). */
  stop(): Promise<Deno.CommandStatus>;
  /** True once the process has exited (its `status` settled). */
  hasExited(): boolean;
}

/** Start `hoop ARGS` as a long-running process. */
export function spawnHoop(
  name: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): HoopProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: hoopArgv(args),
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...opts.env },
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const log = new LogBuffer(name);
  liveLogs.add(log);
  void pump(child.stdout, log);
  void pump(child.stderr, log);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const kill = (signal: Deno.Signal = "SIGTERM") => {
    if (exited) return;
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  const stop = async () => {
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), 5000);
    const s = await status;
    clearTimeout(timer);
    liveLogs.delete(log);
    return s;
  };
  return {
    pid: child.pid,
    log,
    status,
    kill,
    stop,
    hasExited: () => exited,
    [Symbol.asyncDispose]: async () => void await stop(),
  };
}

/** A gateway process on free loopback ports. */
export interface GatewayProcess extends HoopProcess {
  readonly apiUrl: string;
  readonly grpcUrl: string;
  readonly dataAddr: string;
  readonly dataDir: string;
  /** Environment for CLI calls against this gateway (no login yet). */
  readonly env: Record<string, string>;
}

/** Options of {@linkcode startGateway}. */
export interface StartGatewayOptions {
  /** Reuse a data dir (restart tests); default a fresh temp dir. */
  dataDir?: string;
  /** `HOOP_DATABASE_URL`; default the embedded SQLite store. */
  databaseUrl?: string;
  env?: Record<string, string>;
  args?: string[];
  /** Fixed ports (restart tests keep the same addresses). */
  ports?: { grpc: number; api: number; data: number };
  name?: string;
}

/** Start `hoop start gateway` and wait for its listeners. */
export async function startGateway(opts: StartGatewayOptions = {}): Promise<GatewayProcess> {
  const dataDir = opts.dataDir ?? await Deno.makeTempDir({ prefix: "hoop-gw-" });
  const p = opts.ports ?? { grpc: 0, api: 0, data: 0 };
  const env: Record<string, string> = { ...opts.env };
  if (opts.databaseUrl) env.HOOP_DATABASE_URL = opts.databaseUrl;
  const proc = spawnHoop(opts.name ?? "gateway", [
    "start",
    "gateway",
    "--grpc-listen",
    `127.0.0.1:${p.grpc}`,
    "--api-listen",
    `127.0.0.1:${p.api}`,
    "--data-listen",
    `127.0.0.1:${p.data}`,
    "--data-dir",
    dataDir,
    ...(opts.args ?? []),
  ], { env });
  const grpc = await Promise.race([
    proc.log.waitFor(/listening for gRPC on (\S+) .*?public=(\S+)/),
    proc.status.then((s) => {
      throw new Error(`gateway exited with ${s.code}:\n${proc.log.text}`);
    }),
  ]);
  const api = await proc.log.waitFor(/listening for the API on (\S+)/);
  const data = await proc.log.waitFor(/listening for data on \S+ .*?public=(\S+)/);
  const tls = opts.args?.includes("--tls-cert") ?? false;
  const apiUrl = `${tls ? "https" : "http"}://${api[1]}`;
  return {
    ...proc,
    apiUrl,
    grpcUrl: grpc[2],
    dataAddr: data[1],
    dataDir,
    env: { HOOP_API_URL: apiUrl, HOOP_GRPC_URL: grpc[2] },
  };
}

/** Result of a finished CLI call. */
export interface HoopResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `hoop ARGS` to completion. */
export async function hoop(
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {},
): Promise<HoopResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: hoopArgv(args),
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...opts.env },
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(encoder.encode(opts.stdin));
    await w.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone.
    }
  }, opts.timeoutMs ?? 60_000);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Like {@linkcode hoop} but fails the test unless the exit code is 0. */
export async function hoopOk(
  args: string[],
  opts: Parameters<typeof hoop>[1] = {},
): Promise<HoopResult> {
  const r = await hoop(args, opts);
  if (r.code !== 0) {
    throw new Error(
      `hoop ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
    );
  }
  return r;
}

/** A logged-in CLI identity: the environment to pass to {@linkcode hoop}. */
export interface Identity {
  email: string;
  password: string;
  env: Record<string, string>;
}

/** Sign up the first admin on a fresh gateway and log in (own HOOP_HOME). */
export async function signupAdmin(
  gw: GatewayProcess,
  email = "admin@example.com",
): Promise<Identity> {
  const home = await Deno.makeTempDir({ prefix: "hoop-home-" });
  const password = "correct-horse-battery";
  const env = { ...gw.env, HOOP_HOME: home };
  await hoopOk(["signup", "--email", email, "--password-stdin"], { env, stdin: password + "\n" });
  return { email, password, env };
}

/** Create a user as `admin` and log in as them (own HOOP_HOME). */
export async function createUser(
  gw: GatewayProcess,
  admin: Identity,
  email: string,
  opts: { role?: "admin" | "user"; groups?: string[] } = {},
): Promise<Identity> {
  const password = "user-password-123";
  await hoopOk([
    "admin",
    "create",
    "user",
    email,
    "--role",
    opts.role ?? "user",
    ...(opts.groups?.length ? ["--groups", opts.groups.join(",")] : []),
    "--password-stdin",
  ], { env: admin.env, stdin: password + "\n" });
  const home = await Deno.makeTempDir({ prefix: "hoop-home-" });
  const env = { ...gw.env, HOOP_HOME: home };
  await hoopOk(["login", "--email", email, "--password-stdin"], { env, stdin: password + "\n" });
  return { email, password, env };
}

/** Start `hoop start agent` with a key; waits until it is connected. */
export async function startAgent(
  key: string,
  opts: { env?: Record<string, string>; name?: string; waitOnline?: boolean } = {},
): Promise<HoopProcess> {
  const proc = spawnHoop(opts.name ?? "agent", ["start", "agent"], {
    env: { HOOP_KEY: key, ...opts.env },
  });
  if (opts.waitOnline ?? true) await proc.log.waitFor(/connected to the gateway/);
  return proc;
}

/** A free TCP port on 127.0.0.1 (closed again; a tiny race is accepted). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Parse the table `hoop admin get ...` prints into rows keyed by header. */
export function parseTable(text: string): Record<string, string>[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) return [];
  const header = lines[0];
  const starts: number[] = [];
  const names: string[] = [];
  for (const m of header.matchAll(/\S+/g)) {
    starts.push(m.index!);
    names.push(m[0]);
  }
  return lines.slice(1).map((line) => {
    const row: Record<string, string> = {};
    names.forEach((n, i) => {
      row[n] = line.slice(starts[i], i + 1 < starts.length ? starts[i + 1] : undefined).trim();
    });
    return row;
  });
}

/** A temp dir path under the system temp dir. */
export function tempPath(name: string): string {
  return join(Deno.env.get("TMPDIR") ?? "/tmp", name);
}

/** A running `hoop connect NAME` and the local port it listens on. */
export interface ConnectProcess extends HoopProcess {
  readonly port: number;
}

/** Start `hoop connect NAME -p 0` and wait for its "listening on HOST:PORT" line. */
export async function startConnect(
  name: string,
  opts: { env?: Record<string, string>; args?: string[] } = {},
): Promise<ConnectProcess> {
  const proc = spawnHoop(`connect ${name}`, ["connect", name, "-p", "0", ...(opts.args ?? [])], {
    env: opts.env,
  });
  try {
    const m = await Promise.race([
      proc.log.waitFor(/listening on 127\.0\.0\.1:(\d+)/),
      proc.status.then((s) => {
        throw new Error(`hoop connect ${name} exited with ${s.code}:\n${proc.log.text}`);
      }),
    ]);
    return { ...proc, port: Number(m[1]) };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** A session as `hoop admin get sessions -o json` prints it (the API's own type). */
export type SessionJson = Session;
/** A session event as `hoop admin get session ID -o json` prints it. */
export type SessionEventJson = SessionEvent;

/** `hoop admin get sessions FILTERS -o json` as `admin`, newest first. */
export async function listSessions(
  admin: Identity,
  filters: string[] = [],
): Promise<SessionJson[]> {
  const r = await hoopOk(["admin", "get", "sessions", ...filters, "-o", "json"], {
    env: admin.env,
  });
  return JSON.parse(r.stdout);
}

/** `hoop admin get session ID -o json` as `admin`: the session and its events. */
export async function getSession(
  admin: Identity,
  id: string,
): Promise<{ session: SessionJson; events: SessionEventJson[] }> {
  const r = await hoopOk(["admin", "get", "session", id, "-o", "json"], { env: admin.env });
  return JSON.parse(r.stdout);
}

/** What `/proc` says about a process: resident memory and open file descriptors. */
export interface ProcessUsage {
  rssBytes: number;
  fds: number;
}

/**
 * Read VmRSS from `/proc/PID/status` and count `/proc/PID/fd` (Linux only).
 * Deno grants another process's `/proc` files only with --allow-all, so a
 * small `sh` reads them.
 */
export async function processUsage(pid: number): Promise<ProcessUsage> {
  const out = await new Deno.Command("sh", {
    args: ["-c", 'grep "^VmRSS:" "/proc/$1/status" && ls "/proc/$1/fd" | wc -l', "sh", String(pid)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(out.stdout);
  const m = text.match(/^VmRSS:\s+(\d+)\s+kB\n\s*(\d+)\s*$/);
  if (out.code !== 0 || !m) {
    throw new Error(`Cannot read the usage of process ${pid}: ${decoder.decode(out.stderr)}`);
  }
  return { rssBytes: Number(m[1]) * 1024, fds: Number(m[2]) };
}

/** `hoop admin get agents -o json` as `admin`. */
export async function listAgents(admin: Identity): Promise<Agent[]> {
  const r = await hoopOk(["admin", "get", "agents", "-o", "json"], { env: admin.env });
  return JSON.parse(r.stdout);
}

/** A TCP echo server on a free loopback port: the "private service" of tunnel tests. */
export interface EchoServer extends AsyncDisposable {
  readonly port: number;
  /** Connections open right now. */
  readonly open: number;
  close(): Promise<void>;
}

/** Start an echo server: every byte read is written back; EOF from the client closes it. */
export function startEchoServer(): EchoServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const echo = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        await writeAll(conn, buf.subarray(0, n));
      }
    } catch {
      // The client went away.
    } finally {
      conns.delete(conn);
      closeQuietly(conn);
    }
  };
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      void echo(conn);
    }
  })().catch(() => {});
  const close = async () => {
    closeQuietly(listener);
    for (const c of conns) closeQuietly(c);
    await serving;
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get open() {
      return conns.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * A directory holding a `hoop` shell script that runs this checkout's CLI, to
 * put first on PATH so shell lines from the docs run verbatim. Removed on dispose.
 */
export async function hoopOnPath(): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "hoop-bin-" });
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const argv = [Deno.execPath(), ...hoopArgv([])].map(quote).join(" ");
  await Deno.writeTextFile(join(dir, "hoop"), `#!/bin/sh\nexec ${argv} "$@"\n`, { mode: 0o755 });
  return {
    dir,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

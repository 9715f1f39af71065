/**
 * A throwaway PostgreSQL server for tests: `initdb` into a fresh temp dir, a
 * free loopback port, password auth for TCP, a random superuser password.
 * When `HOOP_TEST_DATABASE_URL` is set (and no special auth or TLS is asked
 * for), the tests use that server instead and nothing is started.
 *
 * Root cannot run `initdb`, so as root every server command runs as the
 * `postgres` user through `runuser`, and the temp dir is handed to that user.
 *
 * @module
 */
import { makeTestCerts } from "./_tls.ts";

/** A running PostgreSQL the tests may create databases and roles in. */
export interface PostgresServer extends AsyncDisposable {
  port: number;
  host: "127.0.0.1";
  /** Superuser URL, password auth: `postgres://hoop_admin:<pw>@127.0.0.1:<port>/postgres`. */
  adminUrl: string;
  /** PEM file of the server's certificate (for 127.0.0.1), when started with `ssl: true`. */
  certFile?: string;
  /** PEM file of the CA that signed {@linkcode PostgresServer.certFile}. */
  caFile?: string;
  /** Create a database, returning its URL (same superuser credentials). */
  createDatabase(name: string): Promise<string>;
  /**
   * Create a login role with a password (stored per the server's
   * `password_encryption`: SCRAM-SHA-256, or MD5 for an `md5` server) and a
   * database it owns (default: named after the user); returns its URL.
   */
  createUser(user: string, password: string, db?: string): Promise<string>;
  /** Stop the server and remove its files; safe to call twice. */
  stop(): Promise<void>;
  /**
   * Stop the server but keep its files, as an outage would (`pg_ctl stop -m fast`: clients
   * are disconnected). Throws for a server the harness did not start.
   */
  halt(): Promise<void>;
  /** Start a halted server again on the same port; resolves once it accepts connections. */
  resume(): Promise<void>;
}

/** Options of {@linkcode startPostgres}. */
export interface StartPostgresOptions {
  /** Auth method of the `host` lines in `pg_hba.conf`; default `scram-sha-256`. */
  auth?: "scram-sha-256" | "md5" | "password" | "trust";
  /** Serve TLS with a self-signed certificate. */
  ssl?: boolean;
}

const ADMIN_USER = "hoop_admin";
/** How long a server may take to accept connections before the start fails. */
const START_TIMEOUT_S = 30;
/** Port races (another process takes the free port first) are retried this often. */
const START_ATTEMPTS = 3;

/** The newest `/usr/lib/postgresql/<v>/bin` holding `initdb`, or `undefined`. */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  let versions: number[];
  try {
    versions = [...Deno.readDirSync(root)]
      .filter((e) => e.isDirectory && /^\d+(\.\d+)?$/.test(e.name))
      .map((e) => Number(e.name))
      .sort((a, b) => b - a);
  } catch {
    return undefined;
  }
  for (const v of versions) {
    const bin = `${root}/${v}/bin`;
    try {
      Deno.statSync(`${bin}/initdb`);
      return bin;
    } catch {
      // Client-only packages have a bin dir without the server.
    }
  }
  return undefined;
}

function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** uid and gid of the `postgres` account, from /etc/passwd. */
function postgresAccount(): { uid: number; gid: number } | undefined {
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f[0] === "postgres") return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // No passwd file: treat as no account.
  }
  return undefined;
}

function externalUrl(): string | undefined {
  try {
    return Deno.env.get("HOOP_TEST_DATABASE_URL") || undefined;
  } catch {
    return undefined;
  }
}

function skipReason(): string | undefined {
  if (externalUrl()) return undefined;
  if (!postgresBinDir()) {
    return "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin " +
      "(apt-get install -y postgresql, or set HOOP_TEST_DATABASE_URL)";
  }
  if (isRoot() && !postgresAccount()) {
    return 'running as root and no "postgres" user exists to run initdb';
  }
  return undefined;
}

/** Set when PostgreSQL tests cannot run here; tests pass it as `ignore:` and print it. */
export const POSTGRES_SKIP_REASON: string | undefined = skipReason();

/** Quote an SQL identifier. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quote an SQL string literal. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function randomPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  cmd: string,
  args: string[],
  opts: { asPostgres?: boolean; stdin?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const [file, argv] = opts.asPostgres && isRoot()
    ? ["runuser", ["-u", "postgres", "--", cmd, ...args]]
    : [cmd, args];
  const child = new Deno.Command(file, {
    args: argv,
    env: opts.env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function mustRun(
  what: string,
  cmd: string,
  args: string[],
  opts: { asPostgres?: boolean; stdin?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`Cannot ${what}: ${cmd} exited with ${r.code}\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/** Run SQL through psql as the admin of `url`; the password travels in the env, not argv. */
async function psql(url: string, sql: string): Promise<string> {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = "";
  return await mustRun("run SQL", "psql", [
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    "-d",
    u.href,
  ], { stdin: sql, env: { PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" } });
}

function urlFor(base: URL, user: string, password: string, db: string): string {
  const u = new URL(base.href);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  u.pathname = "/" + encodeURIComponent(db);
  return u.href;
}

/** Outage control of a server the harness started. */
interface ServerControl {
  halt(): Promise<void>;
  resume(): Promise<void>;
}

const EXTERNAL_CONTROL: ServerControl = {
  halt: () => Promise.reject(new Error("Cannot halt PostgreSQL: HOOP_TEST_DATABASE_URL is used")),
  resume: () =>
    Promise.reject(new Error("Cannot resume PostgreSQL: HOOP_TEST_DATABASE_URL is used")),
};

function serverApi(
  adminUrl: string,
  port: number,
  stop: () => Promise<void>,
  tls?: { certFile?: string; caFile?: string },
  control: ServerControl = EXTERNAL_CONTROL,
): PostgresServer {
  const base = new URL(adminUrl);
  const admin = {
    user: decodeURIComponent(base.username),
    password: decodeURIComponent(base.password),
  };
  return {
    port,
    host: "127.0.0.1",
    adminUrl,
    certFile: tls?.certFile,
    caFile: tls?.caFile,
    async createDatabase(name) {
      await psql(adminUrl, `CREATE DATABASE ${ident(name)};`);
      return urlFor(base, admin.user, admin.password, name);
    },
    async createUser(user, password, db = user) {
      await psql(
        adminUrl,
        `CREATE ROLE ${ident(user)} LOGIN PASSWORD ${literal(password)};\n` +
          `CREATE DATABASE ${ident(db)} OWNER ${ident(user)};`,
      );
      return urlFor(base, user, password, db);
    },
    stop,
    halt: control.halt,
    resume: control.resume,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Start a fresh PostgreSQL on a free loopback port (or wrap
 * `HOOP_TEST_DATABASE_URL`, whose `stop` does nothing). Throws when the
 * binaries are missing: check {@linkcode POSTGRES_SKIP_REASON} first.
 */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  const auth = opts.auth ?? "scram-sha-256";
  const ext = externalUrl();
  if (ext && auth === "scram-sha-256" && !opts.ssl) {
    const u = new URL(ext);
    return serverApi(ext, Number(u.port || 5432), () => Promise.resolve());
  }
  const bin = postgresBinDir();
  if (!bin) throw new Error(`Cannot start PostgreSQL: ${skipReason() ?? "no binaries"}`);

  const dir = await Deno.makeTempDir({ prefix: "hoop-pg-" });
  try {
    return await initAndStart(bin, dir, auth, opts.ssl ?? false);
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
}

async function initAndStart(
  bin: string,
  dir: string,
  auth: NonNullable<StartPostgresOptions["auth"]>,
  ssl: boolean,
): Promise<PostgresServer> {
  const data = `${dir}/data`;
  const password = randomPassword();
  const pwfile = `${dir}/pwfile`;
  await Deno.writeTextFile(pwfile, password + "\n", { mode: 0o600 });

  let certFile: string | undefined;
  let caFile: string | undefined;
  if (ssl) {
    // A CA-signed leaf for 127.0.0.1 only, so sslmode=verify-full can pass (by IP) and
    // fail (by name); the files are copied here for the postgres user to read.
    await using certs = await makeTestCerts({ subjectAltName: "IP:127.0.0.1" });
    certFile = `${dir}/server.crt`;
    caFile = `${dir}/ca.crt`;
    await Deno.copyFile(certs.certFile, certFile);
    await Deno.copyFile(certs.keyFile, `${dir}/server.key`);
    await Deno.copyFile(certs.caCertFile, caFile);
    await Deno.chmod(`${dir}/server.key`, 0o600);
  }

  if (isRoot()) {
    const acct = postgresAccount();
    if (!acct) throw new Error('Cannot start PostgreSQL as root: no "postgres" user exists');
    for (const f of [dir, pwfile, ...(ssl ? [`${dir}/server.key`, certFile!, caFile!] : [])]) {
      await Deno.chown(f, acct.uid, acct.gid);
    }
  }
  await Deno.chmod(dir, 0o700);

  await mustRun("initialize a PostgreSQL data dir", `${bin}/initdb`, [
    "-D",
    data,
    "-U",
    ADMIN_USER,
    `--pwfile=${pwfile}`,
    "--auth-local=trust",
    `--auth-host=${auth}`,
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
  ], { asPostgres: true });
  await Deno.remove(pwfile);

  // initdb's own hba has IPv6 and replication lines; tests want exactly these.
  await Deno.writeTextFile(
    `${data}/pg_hba.conf`,
    `local all all trust\nhost all all 127.0.0.1/32 ${auth}\n`,
  );

  const logFile = `${dir}/postgres.log`;
  let lastErr: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = freePort();
    const conf = [
      "listen_addresses = '127.0.0.1'",
      `port = ${port}`,
      `unix_socket_directories = '${dir}'`,
      `password_encryption = '${auth === "md5" ? "md5" : "scram-sha-256"}'`,
      // A throwaway server: durability is not wanted, speed is.
      "fsync = off",
      "synchronous_commit = off",
      "full_page_writes = off",
      "max_connections = 50",
      "shared_buffers = 16MB",
      ...(ssl
        ? ["ssl = on", `ssl_cert_file = '${certFile}'`, `ssl_key_file = '${dir}/server.key'`]
        : []),
    ];
    await Deno.writeTextFile(`${data}/postgresql.auto.conf`, conf.join("\n") + "\n");
    const r = await run(`${bin}/pg_ctl`, [
      "start",
      "-D",
      data,
      "-l",
      logFile,
      "-w",
      "-t",
      String(START_TIMEOUT_S),
    ], { asPostgres: true });
    if (r.code === 0) {
      let stopped = false;
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        await run(`${bin}/pg_ctl`, ["stop", "-D", data, "-m", "fast", "-w"], { asPostgres: true });
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      };
      const adminUrl = `postgres://${ADMIN_USER}:${
        encodeURIComponent(password)
      }@127.0.0.1:${port}/postgres`;
      const control: ServerControl = {
        async halt() {
          await mustRun("halt PostgreSQL", `${bin}/pg_ctl`, [
            "stop",
            "-D",
            data,
            "-m",
            "fast",
            "-w",
          ], { asPostgres: true });
        },
        async resume() {
          await mustRun("resume PostgreSQL", `${bin}/pg_ctl`, [
            "start",
            "-D",
            data,
            "-l",
            logFile,
            "-w",
            "-t",
            String(START_TIMEOUT_S),
          ], { asPostgres: true });
        },
      };
      return serverApi(adminUrl, port, stop, { certFile, caFile }, control);
    }
    let logTail = "";
    try {
      logTail = (await Deno.readTextFile(logFile)).split("\n").slice(-20).join("\n");
    } catch {
      // No log yet.
    }
    lastErr = new Error(
      `Cannot start PostgreSQL on port ${port}: pg_ctl exited with ${r.code}\n${r.stderr}${logTail}`,
    );
    // Only a port taken between our probe and the bind is worth retrying.
    if (!/could not bind|Address already in use/i.test(logTail)) break;
  }
  throw lastErr;
}

/** What a finished psql run printed. */
export interface PsqlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode psqlThrough}. */
export interface PsqlThroughOptions {
  args?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Login user; default "nobody" (hoop's relays ignore it). */
  user?: string;
  /** Database; default "whatever" (hoop's relays ignore it). */
  database?: string;
}

/**
 * Run real `psql -c SQL` against 127.0.0.1:PORT, by default as user "nobody"
 * with a wrong password and database: hoop's relays log in with the agent's
 * credentials and ignore all three. Killed after `timeoutMs`.
 */
export async function psqlThrough(
  port: number,
  sql: string,
  opts: PsqlThroughOptions = {},
): Promise<PsqlRun> {
  const child = new Deno.Command("psql", {
    args: [
      "-X",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      opts.user ?? "nobody",
      "-d",
      opts.database ?? "whatever",
      ...(opts.args ?? []),
      "-c",
      sql,
    ],
    env: { PGPASSWORD: "wrong-password", PGCONNECT_TIMEOUT: "10", ...opts.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

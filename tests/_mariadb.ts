/**
 * A throwaway MariaDB server for tests (Debian's `mariadb-server`):
 * `mariadb-install-db` into a fresh temp dir, `mariadbd` on a free loopback
 * port with its own socket, run as the `mysql` user when the tests run as
 * root. Accounts are created over the socket as the unix-socket root.
 *
 * @module
 */
import { freePort, waitFor } from "./_harness.ts";

/** A running MariaDB. */
export interface MariaDbServer extends AsyncDisposable {
  port: number;
  host: "127.0.0.1";
  socket: string;
  /** Run SQL as root over the socket; resolves with the `mariadb -N -B` output. */
  sql(statement: string): Promise<string>;
  /**
   * Create an account `user@'%'` with `password` through `plugin`
   * (`mysql_native_password` or `ed25519`), all privileges on `db` (created);
   * returns its `mysql://` URL.
   */
  createUser(
    user: string,
    password: string,
    opts?: { plugin?: "mysql_native_password" | "ed25519"; db?: string; requireSsl?: boolean },
  ): Promise<string>;
  stop(): Promise<void>;
}

/** True when the MariaDB server binaries are installed. */
export async function haveMariaDb(): Promise<boolean> {
  for (const bin of ["mariadbd", "mariadb-install-db", "mariadb"]) {
    const ok = await new Deno.Command("sh", {
      args: ["-c", `command -v ${bin} || test -x /usr/sbin/${bin}`],
      stdout: "null",
    })
      .output().then((o) => o.success, () => false);
    if (!ok) return false;
  }
  return true;
}

async function run(cmd: string, args: string[], opts: { asMysql?: boolean; stdin?: string } = {}) {
  const root = Deno.uid() === 0;
  const argv = root && opts.asMysql
    ? ["runuser", "-u", "mysql", "--", cmd, ...args]
    : [cmd, ...args];
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
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
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${argv.join(" ")} failed (${out.code}):\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

/** Options of {@linkcode startMariaDb}. */
export interface MariaDbOptions {
  /** Serve TLS with this certificate and key (PEM files readable by the `mysql` user). */
  tls?: { certFile: string; keyFile: string };
}

/** Start a server; stop it with `stop()` or `await using`. */
export async function startMariaDb(opts: MariaDbOptions = {}): Promise<MariaDbServer> {
  const dir = await Deno.makeTempDir({ prefix: "hoop-mariadb-" });
  const data = `${dir}/data`;
  const socket = `${dir}/mysqld.sock`;
  if (Deno.uid() === 0) await run("chown", ["mysql:mysql", dir]);
  // The server reads its certificate as the mysql user: copies live in its own dir.
  const tls = opts.tls && { certFile: `${dir}/server-cert.pem`, keyFile: `${dir}/server-key.pem` };
  if (opts.tls && tls) {
    await Deno.copyFile(opts.tls.certFile, tls.certFile);
    await Deno.copyFile(opts.tls.keyFile, tls.keyFile);
    if (Deno.uid() === 0) await run("chown", ["mysql:mysql", tls.certFile, tls.keyFile]);
  }
  await run("mariadb-install-db", [
    `--datadir=${data}`,
    "--auth-root-authentication-method=socket",
    "--skip-test-db",
    "--user=mysql",
  ], { asMysql: true });
  const port = freePort();
  const server = new Deno.Command(Deno.uid() === 0 ? "runuser" : "mariadbd", {
    args: [
      ...(Deno.uid() === 0 ? ["-u", "mysql", "--", "/usr/sbin/mariadbd"] : []),
      "--no-defaults",
      `--datadir=${data}`,
      `--socket=${socket}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--pid-file=${dir}/mysqld.pid`,
      "--skip-name-resolve",
      "--max-allowed-packet=256M",
      "--innodb-buffer-pool-size=64M",
      "--innodb-log-file-size=16M",
      "--plugin-load-add=auth_ed25519",
      ...(tls ? [`--ssl-cert=${tls.certFile}`, `--ssl-key=${tls.keyFile}`] : []),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  void (async () => {
    for await (const c of server.stderr) log += new TextDecoder().decode(c);
  })();
  void server.stdout.cancel();
  const sql = (statement: string) =>
    run("mariadb", [
      "--no-defaults",
      `--socket=${socket}`,
      "-u",
      "root",
      "-N",
      "-B",
      "-e",
      statement,
    ]);
  try {
    await waitFor(() => sql("SELECT 1").then(() => true, () => false), {
      timeoutMs: 30_000,
      message: "MariaDB accepting connections",
    });
  } catch (err) {
    server.kill("SIGKILL");
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      server.kill("SIGTERM");
    } catch {
      // Gone.
    }
    await server.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    port,
    host: "127.0.0.1",
    socket,
    sql,
    async createUser(user, password, opts = {}) {
      const db = opts.db ?? user;
      const auth = opts.plugin === "ed25519"
        ? `IDENTIFIED VIA ed25519 USING PASSWORD('${password}')`
        : `IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}')`;
      await sql(
        `CREATE DATABASE IF NOT EXISTS \`${db}\`; CREATE USER '${user}'@'%' ${auth}` +
          `${opts.requireSsl ? " REQUIRE SSL" : ""}; ` +
          `GRANT ALL ON \`${db}\`.* TO '${user}'@'%'; GRANT PROCESS ON *.* TO '${user}'@'%';`,
      );
      return `mysql://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

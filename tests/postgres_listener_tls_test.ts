/**
 * The gateway's PostgreSQL listener on a network (issue 11, items 2 and 3):
 * TLS with real clients (psql `verify-full` and `require`, the npm
 * `postgres` driver, a raw direct-TLS client as PostgreSQL 17 sends it),
 * plain-TCP passwords refused beside a certificate unless the insecure flag
 * is given, the no-TLS warning, and psql's Ctrl-C cancelling a statement
 * through the listener's own cancel key.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import postgres from "postgres";
import {
  freePort,
  getSession,
  hoopOk,
  type Identity,
  listSessions,
  processUsage,
  signupAdmin,
  spawnHoop,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, psqlThrough, startPostgres } from "./_postgres.ts";
import { makeTestCerts, type TestCerts } from "./_tls.ts";
import { closeQuietly, concatBytes, writeAll } from "../proto/bytes.ts";
import { NodeSocketConn } from "../proto/node_socket_conn.ts";
import { MAX_WARM_DATA_CONNS } from "../proto/warm_pool.ts";
import {
  encodeCancel,
  encodePasswordMessage,
  encodeQuery,
  encodeSslRequest,
  encodeStartup,
  MessageReader,
  parseErrorResponse,
  readInt32,
} from "../proto/pgwire/mod.ts";

if (POSTGRES_SKIP_REASON) console.warn(`PostgreSQL tests ignored: ${POSTGRES_SKIP_REASON}`);

const decoder = new TextDecoder();

/** libpq settings of a client that must verify the listener's certificate. */
function verifyFull(certs: TestCerts): Record<string, string> {
  return { PGSSLMODE: "verify-full", PGSSLROOTCERT: certs.caCertFile };
}

/** psql straight to the listener as `who`, database = the connection name. */
function psqlListener(
  port: number,
  who: Identity,
  sql: string,
  env: Record<string, string>,
) {
  return psqlThrough(port, sql, {
    args: ["-At"],
    user: who.email,
    database: "pgdemo",
    env: { PGPASSWORD: who.password, ...env },
  });
}

/** True while `query` runs on the server (seen in pg_stat_activity). */
async function isRunning(adminUrl: string, query: string): Promise<boolean> {
  const out = await new Deno.Command("psql", {
    args: [
      "-X",
      "-At",
      adminUrl,
      "-c",
      `select count(*) from pg_stat_activity where state = 'active' and query = '${query}'`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return out.success && Number(decoder.decode(out.stdout).trim()) > 0;
}

/** Start psql with `sql` through the listener and wait until it runs on the server. */
async function psqlRunning(
  port: number,
  who: Identity,
  sql: string,
  opts: { env: Record<string, string>; adminUrl: string },
) {
  const child = new Deno.Command("psql", {
    args: ["-X", "-h", "127.0.0.1", "-p", String(port), "-U", who.email, "-d", "pgdemo", "-c", sql],
    env: { PGPASSWORD: who.password, PGCONNECT_TIMEOUT: "10", ...opts.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    await waitFor(() => isRunning(opts.adminUrl, sql), {
      timeoutMs: 15_000,
      message: `${sql} never started`,
    });
  } catch (err) {
    clearTimeout(timer);
    child.kill("SIGKILL");
    await child.output();
    throw err;
  }
  return {
    child,
    async done(): Promise<{ code: number; stderr: string; ms: number }> {
      const started = Date.now();
      const out = await child.output();
      clearTimeout(timer);
      return { code: out.code, stderr: decoder.decode(out.stderr), ms: Date.now() - started };
    },
  };
}

/** Send a CancelRequest with a made-up key on plain TCP; resolves with what came back. */
async function guessedCancel(port: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const secret = crypto.getRandomValues(new Uint8Array(4));
    await writeAll(conn, encodeCancel(12345, secret));
    let got = 0;
    const buf = new Uint8Array(64);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return got;
      got += n;
    }
  } finally {
    closeQuietly(conn);
  }
}

/** A client that starts TLS at once, as libpq 17 does with `sslnegotiation=direct`. */
async function directTls(
  port: number,
  certs: TestCerts,
  alpn: string[],
): Promise<NodeSocketConn> {
  const sock = tls.connect({
    host: "127.0.0.1",
    port,
    ca: certs.caCert,
    servername: "localhost",
    ALPNProtocols: alpn,
  });
  await new Promise<void>((resolve, reject) => {
    sock.once("secureConnect", resolve);
    sock.once("error", reject);
  });
  return new NodeSocketConn(sock);
}

interface Setup extends AsyncDisposable {
  admin: Identity;
  pgPort: number;
  adminUrl: string;
  gatewayPid: number;
}

/** A real PostgreSQL, a gateway with a PostgreSQL listener (`args` added), and `hoop run pgdemo`. */
async function setUp(args: string[], certs?: TestCerts): Promise<Setup> {
  const pg = await startPostgres();
  const stack: AsyncDisposable[] = [pg];
  try {
    const appUrl = await pg.createUser("app", "app-pw", "app");
    const pgPort = freePort();
    const grpcPort = freePort();
    const gw = await startGateway({
      ports: { grpc: grpcPort, api: 0, data: 0 },
      args: ["--postgres-listen", `127.0.0.1:${pgPort}`, ...args],
      env: certs ? { HOOP_GRPC_URL: `grpcs://127.0.0.1:${grpcPort}` } : {},
    });
    stack.unshift(gw);
    const trust: Record<string, string> = certs ? { HOOP_TLSCA: certs.caCertFile } : {};
    const admin = await signupAdmin({ ...gw, env: { ...gw.env, ...trust } });
    const orgKey = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
    const run = spawnHoop("run pgdemo", ["run", "--name", "pgdemo", "--postgres", appUrl], {
      env: { HOOP_KEY: orgKey, ...trust },
    });
    stack.unshift(run);
    await run.log.waitFor(/connected to the gateway/);
    return {
      admin,
      pgPort,
      adminUrl: pg.adminUrl,
      gatewayPid: gw.pid,
      async [Symbol.asyncDispose]() {
        for (const d of stack) await d[Symbol.asyncDispose]();
      },
    };
  } catch (err) {
    for (const d of stack) await d[Symbol.asyncDispose]();
    throw err;
  }
}

Deno.test({
  name: "user story: clients reach the PostgreSQL listener over TLS and cancel through it",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    await using certs = await makeTestCerts();
    await using s = await setUp(["--tls-cert", certs.certFile, "--tls-key", certs.keyFile], certs);
    const { admin, pgPort } = s;
    const before = await processUsage(s.gatewayPid);

    await t.step("psql with sslmode=verify-full and the CA logs in over TLS", async () => {
      const r = await psqlListener(pgPort, admin, "select current_user", verifyFull(certs));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "app");
      const info = await psqlListener(pgPort, admin, "\\conninfo", verifyFull(certs));
      assert.equal(info.code, 0, info.stderr);
      assert.match(info.stdout, /SSL connection \(protocol: TLSv1\.[23]/);
    });

    await t.step(
      "psql with sslmode=require logs in; verify-full without the CA fails",
      async () => {
        const r = await psqlListener(pgPort, admin, "select 41 + 1", { PGSSLMODE: "require" });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), "42");
        const untrusted = await psqlListener(pgPort, admin, "select 1", {
          PGSSLMODE: "verify-full",
          PGSSLROOTCERT: "/nonexistent/ca.pem",
        });
        assert.notEqual(untrusted.code, 0);
      },
    );

    await t.step("sslmode=disable is refused before any password is sent", async () => {
      const r = await psqlListener(pgPort, admin, "select 1", { PGSSLMODE: "disable" });
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /over plain TCP: this listener has TLS and refuses passwords in clear/,
      );
      assert.match(r.stderr, /HINT: {2}connect with sslmode=require/);
      assert.doesNotMatch(r.stderr, /password authentication failed/);
    });

    await t.step("bytes sent after SSLRequest, before the handshake, are refused", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: pgPort });
      try {
        await writeAll(
          conn,
          concatBytes([encodeSslRequest(), encodeStartup({ user: admin.email, database: "x" })]),
        );
        const buf = new Uint8Array(16);
        const n = await conn.read(buf).catch(() => null);
        assert.equal(n, null, "closed without an S");
      } finally {
        closeQuietly(conn);
      }
    });

    await t.step("the npm postgres driver with ssl: { ca } runs a query", async () => {
      const sql = postgres({
        host: "127.0.0.1",
        port: pgPort,
        user: admin.email,
        password: admin.password,
        database: "pgdemo",
        ssl: { ca: certs.caCert, servername: "localhost" },
        max: 1,
        connect_timeout: 10,
      });
      try {
        const rows = await sql`select ${"typed"}::text as v, current_user as u`;
        assert.deepEqual([...rows], [{ v: "typed", u: "app" }]);
      } finally {
        await sql.end({ timeout: 5 });
      }
    });

    await t.step(
      "direct TLS (PostgreSQL 17's sslnegotiation=direct, ALPN postgresql; psql here is 15, so a raw node:tls client)",
      async () => {
        using conn = await directTls(pgPort, certs, ["postgresql"]);
        await writeAll(conn, encodeStartup({ user: admin.email, database: "pgdemo" }));
        const reader = new MessageReader(conn);
        const ask = await reader.next();
        assert.equal(ask?.type, "R");
        assert.equal(readInt32(ask!.body), 3, "asks for a cleartext password, inside TLS");
        await writeAll(conn, encodePasswordMessage(admin.password));
        const seen: string[] = [];
        let keyPid: number | undefined;
        for (;;) {
          const m = await reader.next();
          assert.ok(m, `the stream ended after ${seen.join("")}`);
          seen.push(m.type);
          if (m.type === "E") assert.fail(parseErrorResponse(m.body).message);
          if (m.type === "K") keyPid = readInt32(m.body);
          if (m.type === "Z") break;
        }
        assert.ok(keyPid !== undefined, `a BackendKeyData in ${seen.join("")}`);
        await writeAll(conn, encodeQuery("select pg_backend_pid()::text"));
        let value = "";
        for (;;) {
          const m = await reader.next();
          assert.ok(m);
          // DataRow: column count (2 bytes), then the one column's length (4 bytes) and text.
          if (m.type === "D") value = decoder.decode(m.body.subarray(6));
          if (m.type === "Z") break;
        }
        assert.match(value, /^\d+$/, "the query ran over direct TLS");
        assert.notEqual(
          String(keyPid),
          value,
          "the client sees the listener's key, not the backend's",
        );
      },
    );

    await t.step("direct TLS without ALPN postgresql is refused", async () => {
      let refused = false;
      try {
        using conn = await directTls(pgPort, certs, []);
        await writeAll(conn, encodeStartup({ user: admin.email, database: "pgdemo" }));
        refused = (await new MessageReader(conn).next().catch(() => null)) === null;
      } catch {
        refused = true;
      }
      assert.ok(refused, "the listener closed the connection");
    });

    await t.step("the statement audit records what runs over TLS", async () => {
      const r = await psqlListener(pgPort, admin, "select 'audit-over-tls'", verifyFull(certs));
      assert.equal(r.code, 0, r.stderr);
      const found = await waitFor(async () => {
        for (const session of await listSessions(admin)) {
          const { events } = await getSession(admin, session.id);
          if (events.some((e) => e.kind === "sql" && e.data === "select 'audit-over-tls'")) {
            return true;
          }
        }
        return false;
      }, { timeoutMs: 10_000, message: "the statement was never recorded" });
      assert.ok(found);
    });

    await t.step(
      "SIGINT to psql cancels pg_sleep(30) through the listener (TLS session)",
      async () => {
        const sql = "select pg_sleep(30)";
        const run = await psqlRunning(pgPort, admin, sql, {
          env: verifyFull(certs),
          adminUrl: s.adminUrl,
        });
        run.child.kill("SIGINT");
        const { code, stderr, ms } = await run.done();
        assert.equal(code, 1, stderr);
        assert.match(stderr, /canceling statement due to user request/);
        assert.ok(ms < 10_000, `cancelled after ${ms} ms`);
        assert.equal(await isRunning(s.adminUrl, sql), false);
      },
    );

    await t.step(
      "a CancelRequest with a guessed key cancels nothing and hears nothing",
      async () => {
        const sql = "select pg_sleep(2)";
        const run = await psqlRunning(pgPort, admin, sql, {
          env: verifyFull(certs),
          adminUrl: s.adminUrl,
        });
        assert.equal(await guessedCancel(pgPort), 0, "closed without a byte");
        const { code, stderr } = await run.done();
        assert.equal(code, 0, stderr);
      },
    );

    await t.step("the gateway's file descriptors settle back after all of it", async () => {
      // Besides a few of its own, the gateway may hold the agent's parked warm data
      // connections (at most MAX_WARM_DATA_CONNS); a leak grows past both.
      const margin = 4 + MAX_WARM_DATA_CONNS;
      let fds = 0;
      await waitFor(async () => {
        fds = (await processUsage(s.gatewayPid)).fds;
        return fds <= before.fds + margin;
      }, { timeoutMs: 10_000 }).catch((err) => {
        throw new Error(`${err.message}\nfds ${before.fds} -> ${fds} (margin ${margin})`);
      });
    });
  },
});

Deno.test({
  name: "a TLS listener takes plain-TCP passwords with --postgres-listen-insecure, and cancels",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    await using certs = await makeTestCerts();
    await using s = await setUp([
      "--tls-cert",
      certs.certFile,
      "--tls-key",
      certs.keyFile,
      "--postgres-listen-insecure",
    ], certs);

    await t.step("sslmode=disable logs in", async () => {
      const r = await psqlListener(s.pgPort, s.admin, "select current_user", {
        PGSSLMODE: "disable",
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "app");
    });

    await t.step("SIGINT to psql cancels a statement of a plain-TCP session", async () => {
      const sql = "select pg_sleep(30)";
      const run = await psqlRunning(s.pgPort, s.admin, sql, {
        env: { PGSSLMODE: "disable" },
        adminUrl: s.adminUrl,
      });
      run.child.kill("SIGINT");
      const { code, stderr, ms } = await run.done();
      assert.equal(code, 1, stderr);
      assert.match(stderr, /canceling statement due to user request/);
      assert.ok(ms < 10_000, `cancelled after ${ms} ms`);
    });
  },
});

Deno.test("a PostgreSQL listener without TLS bound beyond loopback warns at start", async () => {
  const pgPort = freePort();
  await using gw = await startGateway({ args: ["--postgres-listen", `0.0.0.0:${pgPort}`] });
  await gw.log.waitFor(/postgres listener has no TLS/);
});

Deno.test("HOOP_POSTGRES_LISTEN_INSECURE=1 is the twin of --postgres-listen-insecure", async () => {
  await using certs = await makeTestCerts();
  const pgPort = freePort();
  await using _gw = await startGateway({
    args: [
      "--postgres-listen",
      `127.0.0.1:${pgPort}`,
      "--tls-cert",
      certs.certFile,
      "--tls-key",
      certs.keyFile,
    ],
    env: { HOOP_POSTGRES_LISTEN_INSECURE: "1" },
  });
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: pgPort });
  await writeAll(conn, encodeStartup({ user: "someone@example.com", database: "pgdemo" }));
  const ask = await new MessageReader(conn).next();
  assert.equal(ask?.type, "R", "a password is asked for over plain TCP");
  assert.equal(readInt32(ask!.body), 3);
});

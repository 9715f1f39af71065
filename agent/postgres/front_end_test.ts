import assert from "node:assert/strict";
import { HoopError } from "../../proto/errors.ts";
import { Logger } from "../../proto/log.ts";
import { cancelRequest, PgQueryError, simpleQuery } from "../../proto/pgwire/mod.ts";
import { splice } from "../../proto/splice.ts";
import { POSTGRES_SKIP_REASON, psqlThrough, startPostgres } from "../../tests/_postgres.ts";
import { servePostgres } from "./front_end.ts";

if (POSTGRES_SKIP_REASON) console.warn(`PostgreSQL tests ignored: ${POSTGRES_SKIP_REASON}`);

/** A relay serving every accepted connection with servePostgres(uri). */
function startRelay(uri: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const logLines: string[] = [];
  const log = new Logger({ conn: "pgdemo" }, {
    sink: { write: (l) => logLines.push(l) },
    level: "debug",
  });
  const errors: unknown[] = [];
  const sessions: Promise<void>[] = [];
  const accepting = (async () => {
    try {
      for await (const c of listener) {
        sessions.push(
          servePostgres(c, uri, { log, splice, connectionName: "pgdemo" }).catch((e) => {
            errors.push(e);
          }),
        );
      }
    } catch {
      // Listener closed.
    }
  })();
  let closed = false;
  return {
    port: (listener.addr as Deno.NetAddr).port,
    errors,
    logLines,
    async [Symbol.asyncDispose]() {
      if (closed) return;
      closed = true;
      listener.close();
      await accepting;
      await Promise.all(sessions);
    },
  };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(cmd, {
    args,
    env: { PGPASSWORD: "wrong", PGCONNECT_TIMEOUT: "10", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** psql through the relay as a user and database that do not exist, with a wrong password. */
function psql(port: number, sql: string, env: Record<string, string> = {}): Promise<Run> {
  return psqlThrough(port, sql, { args: ["-At"], env });
}

function assertNoSecret(lines: string[], secret: string): void {
  for (const l of lines) assert.ok(!l.includes(secret), `a log line holds the password: ${l}`);
}

for (const auth of ["scram-sha-256", "md5", "password", "trust"] as const) {
  Deno.test({
    name: `servePostgres() logs psql in with the connection's credentials (${auth})`,
    ignore: POSTGRES_SKIP_REASON !== undefined,
    async fn() {
      await using pg = await startPostgres({ auth });
      const password = "s3cret pw!";
      let url = await pg.createUser("app", password);
      if (auth === "trust") url = url.replace(/:[^:@]*@/, "@"); // no password at all
      await using relay = startRelay(url);
      const r = await psql(relay.port, "select current_user, current_database()", {
        PGAPPNAME: "myapp",
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "app|app");
      const app = await psql(relay.port, "show application_name", { PGAPPNAME: "myapp" });
      assert.equal(app.stdout.trim(), "myapp", "the client's application_name passes through");
      assertNoSecret(relay.logLines, password);
    },
  });
}

Deno.test({
  name: "servePostgres() tells the client why the agent could not log in or reach the server",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    await using pg = await startPostgres();
    const url = new URL(await pg.createUser("app", "right-password"));

    await t.step("a wrong password in the connection URI", async () => {
      url.password = "wrong-in-uri";
      await using relay = startRelay(url.href);
      const r = await psql(relay.port, "select 1");
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        new RegExp(
          `connection pgdemo: the agent could not log in to 127\\.0\\.0\\.1:${pg.port} as "app": ` +
            `password authentication failed for user "app"`,
        ),
      );
      await relay[Symbol.asyncDispose]();
      assert.equal(relay.errors.length, 1);
      assert.ok(relay.errors[0] instanceof HoopError);
      assert.equal((relay.errors[0] as HoopError).code, "unauthenticated");
      assertNoSecret(relay.logLines, "wrong-in-uri");
    });

    await t.step("an unreachable server", async () => {
      const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (closed.addr as Deno.NetAddr).port;
      closed.close();
      await using relay = startRelay(`postgres://app:pw@127.0.0.1:${port}/app`);
      const r = await psql(relay.port, "select 1");
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        new RegExp(
          `connection pgdemo: could not reach 127\\.0\\.0\\.1:${port}: connection refused`,
        ),
      );
      await relay[Symbol.asyncDispose]();
      assert.equal((relay.errors[0] as HoopError).code, "unavailable");
    });

    await t.step("sslmode=require against a server without TLS", async () => {
      url.password = "right-password";
      url.search = "?sslmode=require";
      await using relay = startRelay(url.href);
      const r = await psql(relay.port, "select 1");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /the server does not support SSL, but sslmode is require/);
    });
  },
});

Deno.test({
  name: "servePostgres() speaks TLS to the server per sslmode",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    await using pg = await startPostgres({ ssl: true });
    const base = await pg.createUser("app", "pw");
    const sslQuery = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";

    for (const mode of ["require", "prefer"]) {
      await t.step(`sslmode=${mode} encrypts without verifying the certificate`, async () => {
        await using relay = startRelay(`${base}?sslmode=${mode}`);
        const r = await psql(relay.port, sslQuery);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), "t");
      });
    }

    await t.step(
      "sslmode=require carries pgbench and bulk results (node:tls adapter)",
      async () => {
        await using relay = startRelay(`${base}?sslmode=require`);
        const script = await Deno.makeTempFile({ suffix: ".sql" });
        try {
          await Deno.writeTextFile(script, "\\set n random(1, 1000)\nselect :n::int * 2;\n");
          const bench = await run("pgbench", [
            "-n",
            "-c",
            "4",
            "-j",
            "2",
            "-t",
            "100",
            "-M",
            "extended",
            "-f",
            script,
            "-h",
            "127.0.0.1",
            "-p",
            String(relay.port),
            "-U",
            "nobody",
            "whatever",
          ]);
          assert.equal(bench.code, 0, bench.stderr);
          assert.match(bench.stdout, /actually processed: 400\/400/);
        } finally {
          await Deno.remove(script);
        }
        const bulk = await psql(
          relay.port,
          "select repeat('x', 1000000) from generate_series(1, 24)",
        );
        assert.equal(bulk.code, 0, bulk.stderr);
        assert.equal(bulk.stdout.length, 24 * 1_000_001);
      },
    );

    await t.step("sslmode=disable stays in the clear", async () => {
      await using relay = startRelay(`${base}?sslmode=disable`);
      const r = await psql(relay.port, sslQuery);
      assert.equal(r.stdout.trim(), "f", r.stderr);
    });

    await t.step(
      "sslmode=verify-full with an untrusted certificate is refused clearly",
      async () => {
        await using relay = startRelay(`${base}?sslmode=verify-full`);
        const r = await psql(relay.port, "select 1");
        assert.notEqual(r.code, 0);
        assert.match(
          r.stderr,
          /connection pgdemo: could not set up TLS with 127\.0\.0\.1:\d+: .*certificate/i,
        );
      },
    );

    await t.step("sslmode=verify-full and verify-ca with sslrootcert", async () => {
      // The server's certificate is signed by the harness's CA for 127.0.0.1 only.
      const cert = pg.caFile!;
      await using full = startRelay(`${base}?sslmode=verify-full&sslrootcert=${cert}`);
      const ok = await psql(full.port, sslQuery);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), "t");

      const byName = base.replace("127.0.0.1", "localhost");
      await using wrongName = startRelay(`${byName}?sslmode=verify-full&sslrootcert=${cert}`);
      const bad = await psql(wrongName.port, sslQuery);
      assert.notEqual(bad.code, 0, "localhost is not in the certificate");
      assert.match(bad.stderr, /could not set up TLS/);

      await using ca = startRelay(`${byName}?sslmode=verify-ca&sslrootcert=${cert}`);
      const caOk = await psql(ca.port, sslQuery);
      assert.equal(caOk.stdout.trim(), "t", caOk.stderr);
    });
  },
});

Deno.test({
  name: "servePostgres() forwards a client's cancel request to the real backend",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn() {
    await using pg = await startPostgres();
    await using relay = startRelay(await pg.createUser("app", "pw"));
    const dial = () => Deno.connect({ hostname: "127.0.0.1", port: relay.port });
    const conn = await dial();
    try {
      let cancelled: Promise<void> | undefined;
      const query = simpleQuery(conn, "select pg_sleep(30)", {
        onBackendKey: (key) => {
          // The query is sent right after ReadyForQuery; a cancel racing ahead of it is retried.
          cancelled = (async () => {
            const deadline = Date.now() + 20_000;
            while (Date.now() < deadline) {
              const active = await run("psql", [
                "-X",
                "-At",
                "-h",
                "127.0.0.1",
                "-p",
                String(relay.port),
                "-c",
                `select count(*) from pg_stat_activity where pid = ${key.pid} and state = 'active'`,
              ]);
              if (active.stdout.trim() === "1") break;
            }
            await cancelRequest(await dial(), key);
          })();
        },
      });
      await assert.rejects(query, (err: unknown) => {
        assert.ok(err instanceof PgQueryError);
        assert.equal(err.sqlstate, "57014");
        assert.match(err.message, /canceling statement due to user request/);
        return true;
      });
      await cancelled;
    } finally {
      conn.close();
    }
  },
});

Deno.test("servePostgres() opens the server's connection while the client is still pairing, and closes it unused when the client leaves before its startup (a bare TCP listener stands in for the server)", async () => {
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (server.addr as Deno.NetAddr).port;
  const log = new Logger({}, { sink: { write: () => {} } });
  let arrive!: (c: Deno.Conn) => void;
  const pairing = new Promise<Deno.Conn>((resolve) => arrive = resolve);
  const served = servePostgres(pairing, `postgres://app:pw@127.0.0.1:${port}/app?sslmode=disable`, {
    log,
    splice,
  });
  // Accepted while the client's promise is still pending (or never: fail, don't hang).
  let timer!: ReturnType<typeof setTimeout>;
  const early = await Promise.race([
    server.accept(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no server connection before the client")), 10_000);
    }),
  ]);
  clearTimeout(timer);
  using peer = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dialing = Deno.connect({ hostname: "127.0.0.1", port: (peer.addr as Deno.NetAddr).port });
  const clientSide = await peer.accept();
  const far = await dialing;
  arrive(clientSide);
  far.close(); // gone before sending a startup
  await served;
  assert.equal(
    await early.read(new Uint8Array(16)),
    null,
    "the unused server connection is closed",
  );
  early.close();
});

Deno.test({
  name: "servePostgres() carries pgbench -M extended with no failed transactions",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    await using pg = await startPostgres();
    await using relay = startRelay(await pg.createUser("app", "pw"));
    const args = ["-h", "127.0.0.1", "-p", String(relay.port), "-U", "nobody", "whatever"];
    await t.step("pgbench -i", async () => {
      const r = await run("pgbench", ["-i", "-q", ...args]);
      assert.equal(r.code, 0, r.stderr);
    });
    await t.step("pgbench -c 4 -j 2 -t 200 -M extended", async () => {
      const r = await run("pgbench", [
        "-c",
        "4",
        "-j",
        "2",
        "-t",
        "200",
        "-M",
        "extended",
        ...args,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /number of transactions actually processed: 800\/800/);
      assert.match(r.stdout, /number of failed transactions: 0 /);
    });
    assert.deepEqual(relay.errors, []);
  },
});

Deno.test({
  name: "simpleQuery() runs SQL through the agent",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    await using pg = await startPostgres();
    await using relay = startRelay(await pg.createUser("app", "pw"));
    const query = async (sql: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
      try {
        return await simpleQuery(conn, sql);
      } finally {
        conn.close();
      }
    };

    await t.step("several statements, each with its result", async () => {
      const results = await query(
        "create table t (id int, name text); insert into t values (1, 'a'), (2, null); " +
          "select current_user as who, count(*) from t",
      );
      assert.deepEqual(results.map((r) => r.command), ["CREATE TABLE", "INSERT 0 2", "SELECT 1"]);
      assert.deepEqual(results[2].columns, ["who", "count"]);
      assert.deepEqual(results[2].rows, [["app", "2"]]);
    });

    await t.step("a server error becomes a PgQueryError with the server's message", async () => {
      await assert.rejects(query("select 1; select * from nope"), (err: unknown) => {
        assert.ok(err instanceof PgQueryError);
        assert.equal(err.message, 'relation "nope" does not exist');
        assert.equal(err.sqlstate, "42P01");
        assert.equal(err.results.length, 1, "the statement before the error completed");
        return true;
      });
    });

    await t.step("COPY TO STDOUT lines come back as rows", async () => {
      const [r] = await query(
        "copy (select id, name from t order by id) to stdout with (format csv)",
      );
      assert.deepEqual(r.rows, [["1,a"], ["2,"]]);
      assert.equal(r.command, "COPY 2");
    });

    await t.step("an empty query gives no results", async () => {
      assert.deepEqual(await query(";"), []);
    });
  },
});

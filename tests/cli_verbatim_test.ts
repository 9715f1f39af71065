/**
 * Issue 11's CLI items, each as a user meets it with real processes: a shell
 * line from the docs run verbatim, a long-running `hoop connect` outliving its
 * token, piped input to a console, typed `exec -o json` on a real PostgreSQL,
 * `hoop run -- APP` without saying what to publish, and the small ones
 * (`get agents` for a key that never connected, an embedded key on `hoop start
 * agent`, `--cast` on a session that is no console, a cut `get sessions`,
 * `get session` without an ID, `hoop help --help`, `hoop` alone).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PTY_SUPPORTED } from "../agent/pty.ts";
import { readFull } from "../proto/bytes.ts";
import {
  createUser,
  hoop,
  hoopOk,
  hoopOnPath,
  listSessions,
  parseTable,
  signupAdmin,
  spawnHoop,
  startAgent,
  startConnect,
  startEchoServer,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { POSTGRES_SKIP_REASON, startPostgres } from "./_postgres.ts";
import { makeTestCerts } from "./_tls.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Run `sh -c SCRIPT` with `hoop` on PATH; returns its exit code and output. */
async function shell(script: string, env: Record<string, string>, binDir: string) {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    env: { NO_COLOR: "1", ...env, PATH: `${binDir}:${Deno.env.get("PATH") ?? ""}` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Send `text` through a local port and read the echo back; `null` when the port hung up. */
async function echoThrough(port: number, text: string): Promise<string | null> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(text));
    const got = await readFull(conn, encoder.encode(text).length).catch(() => null);
    return got === null ? null : decoder.decode(got);
  } finally {
    try {
      conn.close();
    } catch {
      // The relay closed it first.
    }
  }
}

Deno.test("export HOOP_KEY=$(hoop admin get orgkeys) feeds hoop run verbatim (#11)", async (t) => {
  await using gw = await startGateway();
  await using bin = await hoopOnPath();
  const admin = await signupAdmin(gw);
  const created = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();

  await t.step("get orgkeys prints the DSN alone; -o json keeps the whole object", async () => {
    const plain = await hoopOk(["admin", "get", "orgkeys"], { env: admin.env });
    assert.equal(plain.stdout, created + "\n");
    const json = JSON.parse(
      (await hoopOk(["admin", "get", "orgkeys", "-o", "json"], {
        env: admin.env,
      })).stdout,
    );
    assert.equal(json.dsn, created);
    assert.ok(json.id && json.created_at, plain.stdout);
  });

  await t.step("the documented shell line, then hoop run and an exec through it", async () => {
    // The line as the docs give it; "exec" makes the shell become hoop run, so SIGTERM reaches it.
    const run = new Deno.Command("sh", {
      args: [
        "-c",
        "export HOOP_KEY=$(hoop admin get orgkeys)\nexec hoop run --name verbatim --command sh",
      ],
      env: { NO_COLOR: "1", ...admin.env, PATH: `${bin.dir}:${Deno.env.get("PATH") ?? ""}` },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let log = "";
    const pump = (async () => {
      for await (const c of run.stderr) log += decoder.decode(c);
    })();
    const out = (async () => {
      for await (const _ of run.stdout) { /* drain */ }
    })();
    try {
      await waitFor(() => log.includes("connected to the gateway"), {
        timeoutMs: 20_000,
        message: `hoop run never connected:\n${log}`,
      });
      const r = await hoopOk(["exec", "verbatim", "-i", "echo through-the-org-key"], {
        env: admin.env,
      });
      assert.equal(r.stdout, "through-the-org-key\n");
    } finally {
      run.kill("SIGTERM");
      await run.status;
      await pump;
      await out;
    }
  });

  await t.step("the same line through a shell exits 0 with nothing but the DSN", async () => {
    const r = await shell(
      'export HOOP_KEY=$(hoop admin get orgkeys) && printf "%s" "$HOOP_KEY"',
      admin.env,
      bin.dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, created);
  });
});

Deno.test("a running hoop connect uses the new token after hoop login (#11)", async (t) => {
  // Long enough for the first connection on a loaded machine, short enough to wait out.
  const TTL_S = 8;
  await using gw = await startGateway({ env: { HOOP_TOKEN_TTL: `${TTL_S}s` } });
  await using echo = startEchoServer();
  const admin = await signupAdmin(gw);
  const key = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
  await using _run = spawnHoop("run echo", [
    "run",
    "--name",
    "echo",
    "--tcp",
    `127.0.0.1:${echo.port}`,
  ], { env: { HOOP_KEY: key } });
  await _run.log.waitFor(/connected to the gateway/);
  const alice = await createUser(gw, admin, "alice@example.com", { role: "admin" });
  await using connect = await startConnect("echo", { env: alice.env });

  await t.step("a connection made with the first token works", async () => {
    assert.equal(await echoThrough(connect.port, "one"), "one");
  });

  await t.step("once the token expired, new connections are refused with one line", async () => {
    await waitFor(async () => (await echoThrough(connect.port, "two")) === null, {
      timeoutMs: (TTL_S + 10) * 1000,
      intervalMs: 500,
      message: "the expired token kept working",
    });
    const line = await connect.log.waitFor(/^hoop: .*expired.*$/m);
    assert.match(line[0], /run "hoop login"/);
    assert.ok(!line[0].includes("\n"));
  });

  await t.step("after hoop login in another shell, the same hoop connect works again", async () => {
    await hoopOk(["login", "--email", alice.email, "--password-stdin"], {
      env: alice.env,
      stdin: alice.password + "\n",
    });
    assert.equal(await echoThrough(connect.port, "three"), "three");
    assert.equal(connect.hasExited(), false);
  });
});

Deno.test({
  name: "piped input to a console ends with end-of-input and the remote exit code (#11)",
  ignore: !PTY_SUPPORTED,
  async fn(t) {
    await using gw = await startGateway();
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
    await using py = spawnHoop("run py", ["run", "--name", "py", "--command", "python3 -q -i"], {
      env: { HOOP_KEY: key },
    });
    await using sh = spawnHoop("run shc", ["run", "--name", "shc", "--command", "sh"], {
      env: { HOOP_KEY: key },
    });
    await py.log.waitFor(/connected to the gateway/);
    await sh.log.waitFor(/connected to the gateway/);

    await t.step("echo 'print(1)' | hoop connect py", async () => {
      const r = await hoop(["connect", "py"], {
        env: admin.env,
        stdin: "print(1)\n",
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.match(r.stdout, /^1\r?$/m);
    });

    await t.step("python's exit code comes back", async () => {
      const r = await hoop(["connect", "py"], {
        env: admin.env,
        stdin: "import sys\nprint(6*7)\nsys.exit(4)\n",
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 4, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.match(r.stdout, /^42\r?$/m);
    });

    await t.step("sh reads the pipe, then exits at its end with the last status", async () => {
      const ok = await hoop(["connect", "shc"], {
        env: admin.env,
        stdin: "echo piped-$((6*7))\n",
        timeoutMs: 30_000,
      });
      assert.equal(ok.code, 0, `stdout: ${ok.stdout}\nstderr: ${ok.stderr}`);
      assert.match(ok.stdout, /piped-42\r?$/m);
      const failed = await hoop(["connect", "shc"], {
        env: admin.env,
        stdin: "echo before-false; false",
        timeoutMs: 30_000,
      });
      assert.equal(failed.code, 1, `stdout: ${failed.stdout}\nstderr: ${failed.stderr}`);
      assert.match(failed.stdout, /before-false\r?$/m);
    });
  },
});

Deno.test({
  name: "hoop exec -o json types numbers, booleans, null and json from PostgreSQL (#11)",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn() {
    await using pg = await startPostgres();
    await using gw = await startGateway();
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
      .trim();
    await using _agent = await startAgent(key);
    const url = await pg.createUser("app", "app-pw-11", "app");
    await hoopOk(["admin", "create", "connection", "pg", "--agent", "dev", "--postgres", url], {
      env: admin.env,
    });
    const sql = "select 1::int2 as i2, 2::int4 as i4, 3::int8 as i8, " +
      "9223372036854775807::int8 as big, 1.5::float4 as f4, 2.25::float8 as f8, " +
      "12.50::numeric as num, 123456789012345678.9::numeric as bignum, " +
      "'NaN'::float8 as nan, true as yes, false as no, null::int as nothing, " +
      `'{"a": [1, null, "x"]}'::json as j, '{"b": {"c": true}}'::jsonb as jb, ` +
      "'2026-01-01'::date as d, 'text' as t, count(*) as n from generate_series(1, 3)";
    const r = await hoopOk(["exec", "pg", "-i", sql, "-o", "json"], { env: admin.env });
    assert.deepEqual(JSON.parse(r.stdout), [{
      i2: 1,
      i4: 2,
      i8: 3,
      big: "9223372036854775807",
      f4: 1.5,
      f8: 2.25,
      num: 12.5,
      bignum: "123456789012345678.9",
      nan: "NaN",
      yes: true,
      no: false,
      nothing: null,
      j: { a: [1, null, "x"] },
      jb: { b: { c: true } },
      d: "2026-01-01",
      t: "text",
      n: 3,
    }]);
    // CSV and the table keep PostgreSQL's text.
    const csv = await hoopOk([
      "exec",
      "pg",
      "-i",
      "select true as yes, 12.50::numeric as num",
      "-o",
      "csv",
    ], {
      env: admin.env,
    });
    assert.equal(csv.stdout, "yes,num\nt,12.50\n");
  },
});

Deno.test("hoop run -- APP must say what it publishes (#11)", async (t) => {
  await using gw = await startGateway();
  const admin = await signupAdmin(gw);
  const key = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
  const env = { ...admin.env, HOOP_KEY: key, SHELL: "/bin/sh" };

  await t.step(
    "neither --name nor --command: a usage error with the fix, nothing published",
    async () => {
      for (const flags of [[], ["--name", "app"]]) {
        const r = await hoop(["run", ...flags, "--", "sh", "-c", "echo app-ran"], { env });
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stdout, "", "the application never ran");
        assert.match(
          r.stderr,
          /^hoop run: "-- sh" needs one of --postgres, --mysql, --tcp or --command/,
        );
        assert.match(r.stderr, /\nHint: for example "hoop run --name \S+ --command /);
        assert.match(r.stderr, /\nUsage: hoop run /);
      }
      const conns = JSON.parse(
        (await hoopOk(["admin", "get", "connections", "-o", "json"], { env: admin.env })).stdout,
      );
      assert.deepEqual(conns, []);
    },
  );

  await t.step("--help says so", async () => {
    const help = await hoopOk(["run", "--help"]);
    assert.match(help.stdout, /one of --postgres, --tcp or --command is required/);
  });

  await t.step(
    "with --command the application runs; the start-up line names the defaults",
    async () => {
      const r = await hoop(["run", "--command", "sh", "--", "sh", "-c", "echo app-ran"], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "app-ran\n");
      assert.match(
        r.stderr,
        /publishing connection "[a-z0-9-]+": command "sh" \(the name is this host's name/,
      );
    },
  );
});

Deno.test("the small ones of issue 11, on a real gateway", async (t) => {
  await using gw = await startGateway();
  const admin = await signupAdmin(gw);
  const env = admin.env;
  const devKey = (await hoopOk(["admin", "create", "agent", "dev"], { env })).stdout.trim();
  await hoopOk(["admin", "create", "agent", "never"], { env });
  await using _dev = await startAgent(devKey);

  await t.step(
    "get agents: - for a key that never connected, OFFLINE after a disconnect",
    async () => {
      const rows = parseTable((await hoopOk(["admin", "get", "agents"], { env })).stdout);
      assert.equal(rows.find((r) => r.NAME === "never")?.STATUS, "-");
      assert.equal(rows.find((r) => r.NAME === "dev")?.STATUS, "ONLINE");
      await _dev.stop();
      await waitFor(async () => {
        const now = parseTable((await hoopOk(["admin", "get", "agents"], { env })).stdout);
        return now.find((r) => r.NAME === "dev")?.STATUS === "OFFLINE";
      }, { message: "dev never showed OFFLINE" });
      const json = JSON.parse(
        (await hoopOk(["admin", "get", "agents", "-o", "json"], { env })).stdout,
      );
      assert.equal(json.find((a: { name: string }) => a.name === "never").status, "OFFLINE");
    },
  );

  await t.step("hoop start agent refuses an embedded key and the org key", async () => {
    const embedded = (await hoopOk(["admin", "create", "agent", "emb", "--mode", "embedded"], {
      env,
    })).stdout.trim();
    const org = (await hoopOk(["admin", "create", "orgkeys"], { env })).stdout.trim();
    for (const key of [embedded, org]) {
      const r = await hoop(["start", "agent"], { env: { HOOP_KEY: key }, timeoutMs: 20_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^hoop: Cannot start agent "\S+": HOOP_KEY is an embedded-mode key/);
      assert.match(r.stderr, /\nHint: use it with "hoop run/);
      assert.ok(!r.stderr.includes("xagt-"), "the key stays secret");
    }
  });

  await t.step("--cast refuses a session that is not a console, and names a bad path", async () => {
    const key = (await hoopOk(["admin", "get", "orgkeys"], { env })).stdout.trim();
    await using run = spawnHoop("run sh", ["run", "--name", "shx", "--command", "sh"], {
      env: { HOOP_KEY: key },
    });
    await run.log.waitFor(/connected to the gateway/);
    await hoopOk(["exec", "shx", "-i", "echo hi"], { env });
    const [exec] = await listSessions(admin, ["--connection", "shx"]);
    const dir = await Deno.makeTempDir();
    try {
      const file = join(dir, "exec.cast");
      const r = await hoop(["admin", "get", "session", exec.id, "--cast", file], { env });
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /^hoop: Cannot write a recording of session "\S+": it is not a console \(verb exec,/,
      );
      await assert.rejects(Deno.stat(file), Deno.errors.NotFound);

      if (PTY_SUPPORTED) {
        await hoop(["connect", "shx"], { env, stdin: "echo console\n", timeoutMs: 30_000 });
        const consoleSession = (await listSessions(admin, ["--connection", "shx"]))
          .find((s) => s.verb === "console")!;
        const bad = join(dir, "no-such-dir", "c.cast");
        const r2 = await hoop(["admin", "get", "session", consoleSession.id, "--cast", bad], {
          env,
        });
        assert.equal(r2.code, 1, r2.stderr);
        assert.ok(
          r2.stderr.startsWith(`hoop: Cannot write the recording to "${bad}": `),
          r2.stderr,
        );
        const good = join(dir, "c.cast");
        await hoopOk(["admin", "get", "session", consoleSession.id, "--cast", good], { env });
        assert.match(await Deno.readTextFile(good), /console/);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("get sessions says on stderr when it shows only the newest N", async () => {
    const all = await listSessions(admin);
    assert.ok(all.length >= 1);
    const cut = await hoopOk(["admin", "get", "sessions", "--limit", "1"], { env });
    assert.equal(parseTable(cut.stdout).length, 1);
    assert.match(cut.stderr, /^Showing only the newest 1 session: there may be more\n/);
    const whole = await hoopOk(["admin", "get", "sessions", "--limit", "1000"], { env });
    assert.equal(whole.stderr, "");
  });

  await t.step("get session without an ID is a usage error", async () => {
    const r = await hoop(["admin", "get", "session"], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^hoop admin get: missing session ID/);
    assert.equal(r.stdout, "");
  });

  await t.step(
    "hoop help --help prints the help; hoop alone prints usage and exits 2",
    async () => {
      const help = await hoop(["help", "--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^hoop: reach private/);
      const alone = await hoop([]);
      assert.equal(alone.code, 2);
      assert.equal(alone.stdout, "");
      assert.match(alone.stderr, /Usage:\n {2}hoop <command>/);
    },
  );
});

Deno.test("a TLS mismatch between a URL and the gateway says what is wrong (#11)", async (t) => {
  await using certs = await makeTestCerts();
  await using plain = await startGateway({ name: "plain gateway" });
  await using tls = await startGateway({
    name: "TLS gateway",
    args: ["--tls-cert", certs.certFile, "--tls-key", certs.keyFile],
  });
  const plainAdmin = await signupAdmin(plain);
  const tlsAdmin = await signupAdmin({
    ...tls,
    env: { ...tls.env, HOOP_TLSCA: certs.caCertFile },
  });
  const plainKey = (await hoopOk(["admin", "create", "agent", "dev"], { env: plainAdmin.env }))
    .stdout.trim();
  const tlsKey = (await hoopOk(["admin", "create", "agent", "dev"], { env: tlsAdmin.env }))
    .stdout.trim();

  await t.step("the CLI: https:// to a plain gateway, http:// to a TLS one", async () => {
    const toPlain = await hoop(["admin", "get", "agents"], {
      env: { ...plainAdmin.env, HOOP_API_URL: plain.apiUrl.replace("http:", "https:") },
    });
    assert.equal(toPlain.code, 1);
    assert.match(
      toPlain.stderr,
      /^hoop: Cannot reach the gateway API at "https:[^"]+" \(from HOOP_API_URL\): the URL says https:\/\/ but the gateway does not speak TLS there\nHint: use http:\/\//,
    );
    const toTls = await hoop(["admin", "get", "agents"], {
      env: { ...tlsAdmin.env, HOOP_API_URL: tls.apiUrl.replace("https:", "http:") },
    });
    assert.equal(toTls.code, 1);
    assert.match(
      toTls.stderr,
      /^hoop: Cannot reach the gateway API at "http:[^"]+" \(from HOOP_API_URL\): the URL says http:\/\/ but the gateway serves TLS there\nHint: use https:\/\//,
    );
  });

  await t.step("an agent: grpcs:// to a plain gateway, grpc:// to a TLS one", async () => {
    const cases: { key: string; env: Record<string, string>; want: RegExp }[] = [
      {
        key: plainKey.replace(/^grpc:/, "grpcs:"),
        env: { HOOP_TLSCA: certs.caCertFile },
        want:
          /HOOP_KEY says grpcs:\/\/ but the gateway at \S+ does not speak TLS.*hint=use grpc:\/\//,
      },
      {
        key: tlsKey.replace(/^grpcs:/, "grpc:"),
        env: {},
        want: /HOOP_KEY says grpc:\/\/ but the gateway at \S+ serves TLS.*hint=use grpcs:\/\//,
      },
    ];
    for (const c of cases) {
      await using agent = spawnHoop("mismatched agent", ["start", "agent"], {
        env: { HOOP_KEY: c.key, ...c.env },
      });
      await agent.log.waitFor(c.want);
      assert.ok(!agent.log.text.includes("xagt-"), "the key stays secret");
    }
  });
});

/**
 * End-to-end: an admin creates agent keys, agents dial in and show ONLINE,
 * survive a gateway restart, stop cleanly, and are cut off when revoked; the
 * org key; and the errors users meet on the way. Real gateway, agent and CLI
 * processes on loopback, SQLite store in a temp data dir.
 */
import assert from "node:assert/strict";
import {
  createUser,
  freePort,
  type GatewayProcess,
  hoop,
  hoopOk,
  type HoopProcess,
  parseTable,
  signupAdmin,
  startAgent,
  startGateway,
  waitFor,
} from "./_harness.ts";

/** Header of `hoop admin get agents`, in order (DESIGN.md). */
const AGENTS_HEADER = ["UID", "NAME", "MODE", "VERSION", "HOSTNAME", "PLATFORM", "STATUS"];

/** The target of revocation is 1 s (DESIGN.md); this deadline only catches a broken path. */
const REVOKE_DEADLINE_MS = 5_000;

/** Backoff starts at 1 s and doubles: a restarted gateway is found well within this. */
const RECONNECT_DEADLINE_MS = 20_000;

/** A DSN with its auth key hidden, for assertion messages. */
function redact(text: string): string {
  return text.replace(/xagt-[A-Za-z0-9_-]+/g, "xagt-***");
}

/** Parse a DSN printed by the CLI (checked black-box, without proto/dsn.ts). */
function parseDsnOutput(stdout: string) {
  const lines = stdout.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `expected only the DSN on stdout, got ${redact(stdout)}`);
  const url = new URL(lines[0]);
  return {
    text: lines[0],
    scheme: url.protocol.replace(/:$/, ""),
    name: decodeURIComponent(url.username),
    key: decodeURIComponent(url.password),
    host: url.hostname,
    port: Number(url.port),
    mode: url.searchParams.get("mode"),
  };
}

/** The `admin get agents` rows, keyed by agent name. */
async function agentRows(
  env: Record<string, string>,
): Promise<Map<string, Record<string, string>>> {
  const r = await hoopOk(["admin", "get", "agents"], { env });
  return new Map(parseTable(r.stdout).map((row) => [row.NAME, row]));
}

async function agentStatus(env: Record<string, string>, name: string): Promise<string | undefined> {
  return (await agentRows(env)).get(name)?.STATUS;
}

/** Timestamp at the start of the log line matching `re` (the logger's ISO prefix). */
function logTime(text: string, re: RegExp): number {
  const line = text.split("\n").find((l) => re.test(l));
  assert.ok(line, `no log line matches ${re}`);
  const t = Date.parse(line.split(" ")[0]);
  assert.ok(!Number.isNaN(t), `log line has no timestamp: ${line}`);
  return t;
}

function countLines(text: string, re: RegExp): number {
  return text.split("\n").filter((l) => re.test(l)).length;
}

Deno.test("user story: an admin runs agents through key creation, restarts and revocation", async (t) => {
  // Fixed ports up front: the gateway restarts on the same addresses.
  const ports = { grpc: freePort(), api: freePort(), data: freePort() };
  const dataDir = await Deno.makeTempDir({ prefix: "hoop-gw-" });
  const procs = new Set<HoopProcess>();
  const homes: string[] = [];
  const tempHome = async (): Promise<string> => {
    const home = await Deno.makeTempDir({ prefix: "hoop-home-" });
    homes.push(home);
    return home;
  };
  let gw: GatewayProcess | undefined;
  const track = <P extends HoopProcess>(p: P): P => {
    procs.add(p);
    return p;
  };
  try {
    gw = track(await startGateway({ dataDir, ports }));
    const admin = await signupAdmin(gw);
    homes.push(admin.env.HOOP_HOME);
    const env = admin.env;

    await t.step(
      "signup is closed after the first admin; a wrong password is refused",
      async () => {
        const home = await tempHome();
        const other = { ...gw!.env, HOOP_HOME: home };
        const again = await hoop(["signup", "--email", "second@example.com", "--password-stdin"], {
          env: other,
          stdin: "another-password-1\n",
        });
        assert.notEqual(again.code, 0);
        assert.match(again.stderr, /signup is closed/i);
        const wrong = await hoop(["login", "--email", admin.email, "--password-stdin"], {
          env: other,
          stdin: "not-the-password\n",
        });
        assert.equal(wrong.code, 1, wrong.stderr);
        assert.match(wrong.stderr, /password/i);
        assert.doesNotMatch(wrong.stderr, /not-the-password/);
      },
    );

    let devKey = "";
    await t.step("create agent prints only a standard-mode DSN", async () => {
      const r = await hoopOk(["admin", "create", "agent", "dev"], { env });
      const dsn = parseDsnOutput(r.stdout);
      assert.equal(dsn.scheme, "grpc");
      assert.equal(dsn.name, "dev");
      assert.match(dsn.key, /^xagt-[A-Za-z0-9_-]{43}$/);
      assert.equal(dsn.host, "127.0.0.1");
      assert.equal(dsn.port, ports.grpc);
      assert.equal(dsn.mode, "standard");
      devKey = dsn.text;
    });

    await t.step("a duplicate or invalid agent name is refused", async () => {
      const dup = await hoop(["admin", "create", "agent", "dev"], { env });
      assert.equal(dup.code, 1, dup.stderr);
      assert.equal(dup.stdout, "");
      assert.match(dup.stderr, /Cannot create agent "dev": an agent with that name already exists/);
      const bad = await hoop(["admin", "create", "agent", "bad name!"], { env });
      assert.notEqual(bad.code, 0);
      assert.equal(bad.stdout, "");
      assert.match(bad.stderr, /Invalid agent name "bad name!"/);
    });

    await t.step("a never-connected agent is listed with dashes (#11)", async () => {
      const r = await hoopOk(["admin", "get", "agents"], { env });
      const header = r.stdout.split("\n")[0].trim().split(/\s+/);
      assert.deepEqual(header, AGENTS_HEADER);
      const row = parseTable(r.stdout).find((x) => x.NAME === "dev");
      assert.ok(row, r.stdout);
      assert.match(row.UID, /^[0-9a-f-]{36}$/);
      assert.equal(row.MODE, "standard");
      assert.equal(row.VERSION, "-");
      assert.equal(row.HOSTNAME, "-");
      assert.equal(row.PLATFORM, "-");
      assert.equal(row.STATUS, "-");

      const json = JSON.parse(
        (await hoopOk(["admin", "get", "agents", "-o", "json"], { env })).stdout,
      );
      assert.ok(Array.isArray(json));
      const dev = json.find((a: { name: string }) => a.name === "dev");
      assert.equal(dev.id, row.UID);
      assert.equal(dev.mode, "standard");
      assert.equal(dev.status, "OFFLINE");
      for (const k of ["version", "hostname", "platform", "connected_at", "seen_at"]) {
        assert.ok(k in dev, `json lacks ${k}`);
        assert.equal(dev[k], null, `${k} of a never-connected agent`);
      }
      assert.ok(!Number.isNaN(Date.parse(dev.created_at)));
      assert.doesNotMatch(JSON.stringify(json), /xagt-|key_hash/, "no key material in the listing");
    });

    let dev!: HoopProcess;
    await t.step("a running agent shows ONLINE with version, hostname and platform", async () => {
      dev = track(await startAgent(devKey, { name: "agent-dev" }));
      const connectedAt = logTime(dev.log.text, /connected to the gateway/);
      let row: Record<string, string> | undefined;
      let seenBy = 0;
      await waitFor(async () => {
        const started = Date.now();
        row = (await agentRows(env)).get("dev");
        seenBy = started;
        return row?.STATUS === "ONLINE";
      }, { timeoutMs: 10_000, message: "dev never showed ONLINE" });
      console.log(
        `time to ONLINE: "hoop admin get agents" started ${seenBy - connectedAt} ms after ` +
          `the agent's "connected" line showed it ONLINE (${Date.now() - connectedAt} ms ` +
          `including that CLI run)`,
      );
      assert.match(row!.VERSION, /^\d+\.\d+\.\d+/);
      assert.notEqual(row!.HOSTNAME, "-");
      assert.match(row!.PLATFORM, /^(linux|darwin|windows)\/(amd64|arm64)$/);
      const json = JSON.parse(
        (await hoopOk(["admin", "get", "agents", "-o", "json"], { env })).stdout,
      );
      const d = json.find((a: { name: string }) => a.name === "dev");
      assert.equal(d.status, "ONLINE");
      assert.equal(d.platform, row!.PLATFORM);
      assert.ok(!Number.isNaN(Date.parse(d.connected_at)));
      assert.doesNotMatch(dev.log.text, /xagt-/, "the agent never logs its key");
      assert.doesNotMatch(gw!.log.text, /xagt-/, "the gateway never logs keys");
    });

    let lateKey = "";
    await t.step("agents ride out a gateway restart on the same ports", async () => {
      lateKey =
        parseDsnOutput((await hoopOk(["admin", "create", "agent", "late"], { env })).stdout).text;
      const before = gw!;
      const s = await before.stop();
      procs.delete(before);
      assert.equal(s.code, 0, `gateway exit on SIGTERM\n${before.log.tail()}`);
      assert.match(before.log.text, /gateway stopped/);
      await dev.log.waitFor(/disconnected from the gateway/);

      // An agent started while the gateway is down keeps retrying and says so once.
      const late = track(
        await startAgent(lateKey, {
          name: "agent-late",
          waitOnline: false,
          env: { HOOP_LOG_LEVEL: "debug" },
        }),
      );
      await waitFor(() => countLines(late.log.text, /DEBUG reconnecting/) >= 2, {
        timeoutMs: 15_000,
        message: "agent-late never retried twice",
      });
      assert.equal(late.hasExited(), false, "the agent exited while the gateway was down");
      assert.equal(
        countLines(late.log.text, /gateway unreachable/),
        1,
        `unreachable logged once for repeated failures:\n${late.log.text}`,
      );
      assert.match(late.log.text, new RegExp(`gateway unreachable.*127\\.0\\.0\\.1:${ports.grpc}`));
      assert.equal(dev.hasExited(), false, "the running agent exited while the gateway was down");
      assert.doesNotMatch(
        dev.log.text,
        /gateway unreachable.*shutting down/,
        "a clean gateway shutdown is not reported as unreachable",
      );

      gw = track(await startGateway({ dataDir, ports, name: "gateway-2" }));
      await late.log.waitFor(/connected to the gateway/, RECONNECT_DEADLINE_MS);
      await waitFor(() => countLines(dev.log.text, /connected to the gateway/) >= 2, {
        timeoutMs: RECONNECT_DEADLINE_MS,
        message: "agent-dev never reconnected",
      });
      await waitFor(async () => {
        const rows = await agentRows(env);
        return rows.get("dev")?.STATUS === "ONLINE" && rows.get("late")?.STATUS === "ONLINE";
      }, { timeoutMs: 10_000, message: "dev and late never both showed ONLINE" });
    });

    await t.step("SIGTERM stops an agent with exit 0 and it shows OFFLINE", async () => {
      const late = [...procs].find((p) => p.log.name === "agent-late")!;
      late.kill("SIGTERM");
      const s = await late.status;
      procs.delete(late);
      await late.stop();
      assert.equal(s.code, 0, late.log.tail());
      await waitFor(async () => await agentStatus(env, "late") === "OFFLINE", {
        timeoutMs: 5_000,
        message: "late still not OFFLINE after SIGTERM",
      });
    });

    await t.step("deleting an agent cuts it off and its key stops working", async () => {
      const t0 = Date.now();
      await hoopOk(["admin", "delete", "agent", "dev"], { env });
      const t1 = Date.now();
      await waitFor(() => dev.hasExited(), {
        timeoutMs: REVOKE_DEADLINE_MS,
        intervalMs: 5,
        message: "the revoked agent did not exit",
      });
      const s = await dev.status;
      const t2 = Date.now();
      procs.delete(dev);
      await dev.stop();
      assert.notEqual(s.code, 0);
      assert.match(dev.log.text, /key revoked or unknown/);
      const revokedAt = logTime(gw!.log.text, /agent revoked.*agent=dev/);
      const stoppedAt = logTime(dev.log.text, /key revoked or unknown: the agent stops/);
      console.log(
        `revocation latency: gateway "agent revoked" -> agent stops ${stoppedAt - revokedAt} ms; ` +
          `delete reply -> agent exit ${t2 - t1} ms; CLI start -> agent exit ${t2 - t0} ms`,
      );
      assert.ok(!(await agentRows(env)).has("dev"), "a deleted agent is no longer listed");

      const again = await hoop(["start", "agent"], {
        env: { HOOP_KEY: devKey },
        timeoutMs: 20_000,
      });
      assert.equal(again.code, 1, again.stderr);
      assert.match(again.stderr, /unauthorized/);
      assert.doesNotMatch(again.stderr, /xagt-/);
    });

    await t.step("the organization key is created once, shown again, and deleted", async () => {
      const created = await hoopOk(["admin", "create", "orgkeys"], { env });
      const dsn = parseDsnOutput(created.stdout);
      assert.equal(dsn.mode, "embedded");
      assert.match(dsn.key, /^xagt-/);
      const shown = await hoopOk(["admin", "get", "orgkeys"], { env });
      assert.ok(shown.stdout.includes(dsn.text), "get orgkeys shows the same DSN");
      const json = JSON.parse(
        (await hoopOk(["admin", "get", "orgkeys", "-o", "json"], { env })).stdout,
      );
      assert.equal(json.dsn, dsn.text);
      const second = await hoop(["admin", "create", "orgkeys"], { env });
      assert.equal(second.code, 1);
      assert.equal(second.stdout, "");
      assert.match(second.stderr, /one exists already/);
      await hoopOk(["admin", "delete", "orgkeys"], { env });
      const gone = await hoop(["admin", "get", "orgkeys"], { env });
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /No organization key exists/);
      assert.match(gone.stderr, /hoop admin create orgkeys/);
    });

    await t.step("agent start refuses a missing, malformed or unknown HOOP_KEY", async () => {
      const none = await hoop(["start", "agent"], { env: { HOOP_KEY: "" } });
      assert.equal(none.code, 2);
      assert.match(none.stderr, /HOOP_KEY/);

      const malformed = await hoop(["start", "agent"], {
        env: { HOOP_KEY: `grpc://dev:xagt-short@127.0.0.1:${ports.grpc}?mode=standard` },
      });
      assert.equal(malformed.code, 2);
      const first = malformed.stderr.split("\n")[0];
      assert.match(first, /Invalid HOOP_KEY: .*auth key/);
      assert.doesNotMatch(malformed.stderr, /xagt-short/, "the key is not echoed");
      const noScheme = await hoop(["start", "agent"], { env: { HOOP_KEY: "not-a-dsn" } });
      assert.equal(noScheme.code, 2);
      assert.match(noScheme.stderr.split("\n")[0], /Invalid HOOP_KEY: .*scheme/);

      const random = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
        .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      const unknown = await hoop(["start", "agent"], {
        env: { HOOP_KEY: `grpc://ghost:xagt-${random}@127.0.0.1:${ports.grpc}?mode=standard` },
        timeoutMs: 20_000,
      });
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /unauthorized/);
    });

    await t.step("admin commands explain login, permissions and an unreachable API", async () => {
      const home = await tempHome();
      const anon = await hoop(["admin", "get", "agents"], { env: { ...gw!.env, HOOP_HOME: home } });
      assert.equal(anon.code, 1);
      assert.match(anon.stderr, /Not logged in/);
      assert.match(anon.stderr, /hoop login/);

      const user = await createUser(gw!, admin, "user@example.com");
      homes.push(user.env.HOOP_HOME);
      const denied = await hoop(["admin", "get", "agents"], { env: user.env });
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /permission denied/i);

      const deadUrl = `http://127.0.0.1:${freePort()}`;
      const down = await hoop(["admin", "get", "agents"], {
        env: { ...env, HOOP_API_URL: deadUrl },
      });
      assert.equal(down.code, 1);
      assert.ok(down.stderr.includes(deadUrl), `names the URL: ${down.stderr}`);
      assert.match(down.stderr, /Cannot reach the gateway API/);
    });

    await t.step("after logout admin commands say not logged in", async () => {
      const home = await tempHome();
      const fresh = { ...gw!.env, HOOP_HOME: home };
      await hoopOk(["login", "--email", admin.email, "--password-stdin"], {
        env: fresh,
        stdin: admin.password + "\n",
      });
      await hoopOk(["admin", "get", "agents"], { env: fresh });
      await hoopOk(["logout"], { env: fresh });
      const r = await hoop(["admin", "get", "agents"], { env: fresh });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Not logged in/);
      assert.match(r.stderr, /hoop login/);
    });
  } finally {
    for (const p of [...procs].reverse()) await p.stop();
    for (const dir of [dataDir, ...homes]) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
});

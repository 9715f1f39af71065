/**
 * End-to-end over TLS: a gateway serving a v3 certificate made at test time
 * (tests/_tls.ts), the CLI trusting it through HOOP_TLSCA (file and base64://
 * forms), and an agent on a grpcs:// DSN. The machine's
 * GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (the whole CA bundle, ENVIRONMENT.md) stays
 * set for every child, so the gateway's explicit roots are exercised.
 */
import assert from "node:assert/strict";
import {
  freePort,
  hoop,
  hoopOk,
  type HoopProcess,
  parseTable,
  signupAdmin,
  startAgent,
  startGateway,
  waitFor,
} from "./_harness.ts";
import { makeTestCerts } from "./_tls.ts";

async function agentStatus(env: Record<string, string>, name: string): Promise<string | undefined> {
  const r = await hoopOk(["admin", "get", "agents"], { env });
  return parseTable(r.stdout).find((row) => row.NAME === name)?.STATUS;
}

Deno.test("user story: a TLS gateway serves the CLI and a grpcs:// agent that trust its CA", async (t) => {
  await using certs = await makeTestCerts();
  const grpcPort = freePort();
  await using gw = await startGateway({
    ports: { grpc: grpcPort, api: 0, data: 0 },
    args: ["--tls-cert", certs.certFile, "--tls-key", certs.keyFile],
    env: { HOOP_GRPC_URL: `grpcs://127.0.0.1:${grpcPort}` },
  });
  assert.match(gw.apiUrl, /^https:\/\//);
  const agents: HoopProcess[] = [];
  const dirs = [gw.dataDir];
  try {
    const untrusted = { ...gw.env, HOOP_HOME: await Deno.makeTempDir({ prefix: "hoop-home-" }) };
    dirs.push(untrusted.HOOP_HOME);

    await t.step("the CLI without HOOP_TLSCA gives a clear certificate error", async () => {
      const r = await hoop(["signup", "--email", "admin@example.com", "--password-stdin"], {
        env: untrusted,
        stdin: "correct-horse-battery\n",
      });
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(gw.apiUrl), `names the URL: ${r.stderr}`);
      assert.match(r.stderr, /certificate|TLS/i);
      assert.match(r.stderr, /HOOP_TLSCA/, "the hint names HOOP_TLSCA");
    });

    const admin = await signupAdmin({ ...gw, env: { ...gw.env, HOOP_TLSCA: certs.caCertFile } });
    const env = admin.env;
    dirs.push(env.HOOP_HOME);

    let key = "";
    await t.step("HOOP_TLSCA as a file and as base64:// both work; DSNs say grpcs", async () => {
      const r = await hoopOk(["admin", "create", "agent", "secure"], { env });
      key = r.stdout.trim();
      assert.ok(key.startsWith(`grpcs://secure:xagt-`), "DSN uses grpcs");
      assert.ok(key.endsWith(`@127.0.0.1:${grpcPort}?mode=standard`));
      const b64 = await hoopOk(["admin", "get", "agents"], {
        env: { ...env, HOOP_TLSCA: certs.caBase64Url },
      });
      // Never connected yet: "-" (#11).
      assert.equal(parseTable(b64.stdout).find((row) => row.NAME === "secure")?.STATUS, "-");
    });

    await t.step("an agent trusting the CA comes ONLINE over grpcs", async () => {
      const agent = await startAgent(key, {
        name: "agent-tls",
        env: { HOOP_TLSCA: certs.caBase64Url },
      });
      agents.push(agent);
      await waitFor(async () => await agentStatus(env, "secure") === "ONLINE", {
        timeoutMs: 10_000,
        message: "the TLS agent never showed ONLINE",
      });
      assert.doesNotMatch(gw.log.text, /HandshakePayloadTooLarge/);
      await agent.stop();
      await waitFor(async () => await agentStatus(env, "secure") === "OFFLINE", {
        timeoutMs: 5_000,
        message: "the TLS agent still ONLINE after SIGTERM",
      });
    });

    await t.step(
      "sessions cross the data port over TLS: exec with separate streams and exit code",
      async () => {
        await hoopOk([
          "admin",
          "create",
          "connection",
          "tlssh",
          "--agent",
          "secure",
          "--command",
          "sh",
        ], {
          env,
        });
        const agent = await startAgent(key, {
          name: "agent-tls-data",
          env: { HOOP_TLSCA: certs.caCertFile },
        });
        agents.push(agent);
        await waitFor(async () => await agentStatus(env, "secure") === "ONLINE", {
          message: "the TLS agent never showed ONLINE",
        });
        const run = await hoop(["exec", "tlssh", "-i", "echo over-tls; echo err >&2; exit 4"], {
          env,
        });
        assert.equal(run.code, 4, run.stderr);
        assert.equal(run.stdout, "over-tls\n");
        assert.equal(run.stderr, "err\n");
        // A client that does not trust the CA cannot reach the data port either.
        const untrustedExec = await hoop(["exec", "tlssh", "-i", "echo no"], {
          env: { ...env, HOOP_TLSCA: "" },
        });
        assert.notEqual(untrustedExec.code, 0);
        assert.doesNotMatch(untrustedExec.stdout, /no/);
        await agent.stop();
      },
    );

    await t.step("an agent without HOOP_TLSCA does not come online", async () => {
      const agent = await startAgent(key, {
        name: "agent-untrusted",
        waitOnline: false,
        env: { HOOP_TLSCA: "" },
      });
      agents.push(agent);
      await agent.log.waitFor(/gateway unreachable/);
      assert.match(agent.log.text, /certificate|verify|issuer/i, "the log says why");
      assert.match(agent.log.text, /HOOP_TLSCA/, "the log says what to set");
      assert.equal(agent.hasExited(), false, "it keeps retrying");
      assert.doesNotMatch(agent.log.text, /connected to the gateway/);
      assert.equal(await agentStatus(env, "secure"), "OFFLINE");
      const s = await agent.stop();
      assert.equal(s.code, 0);
    });
  } finally {
    for (const a of agents) await a.stop();
    await gw.stop();
    for (const dir of dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

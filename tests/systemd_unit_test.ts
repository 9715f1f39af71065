/**
 * The agent's systemd unit: `systemd-analyze verify` accepts it without a
 * warning, `hoop start agent --print-unit` prints the same unit for the
 * running binary, and the agent works under what the unit imposes as far as
 * it can be reproduced without systemd running: an unprivileged user
 * (`DynamicUser=yes`), no new privileges, and no writable home
 * (`ProtectHome=yes`), through `setpriv`: it goes ONLINE, reports the
 * version `hoop version` prints, and serves a command.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { agentUnit } from "../cli/systemd_unit.ts";
import { PERMISSIONS } from "../cli/permissions.ts";
import { VERSION } from "../proto/version.ts";
import { hoop, hoopOk, LogBuffer, MAIN, signupAdmin, startGateway, waitFor } from "./_harness.ts";

const UNIT = fileURLToPath(new URL("../scripts/hoop-agent.service", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));
const HAVE_ANALYZE = await new Deno.Command("systemd-analyze", { args: ["--version"] })
  .output().then((o) => o.success, () => false);

Deno.test("scripts/hoop-agent.service is what hoop start agent --print-unit prints for /usr/local/bin/hoop", async () => {
  const file = await Deno.readTextFile(UNIT);
  assert.equal(file, agentUnit("/usr/local/bin/hoop start agent"));
  const printed = await hoopOk(["start", "agent", "--print-unit"]);
  // From a checkout the unit runs deno on cli/main.ts, with the binary's permissions.
  assert.match(printed.stdout, new RegExp(`^ExecStart=\\S*deno run .*${MAIN} start agent$`, "m"));
  for (const p of PERMISSIONS) assert.ok(printed.stdout.includes(p), p);
  assert.equal(
    printed.stdout.replace(/^ExecStart=.*$/m, "ExecStart=X"),
    agentUnit("X"),
  );
});

Deno.test({
  name: "systemd-analyze verify accepts the unit printed by --print-unit without a warning",
  ignore: !HAVE_ANALYZE,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "hoop-unit-" });
    try {
      const printed = (await hoopOk(["start", "agent", "--print-unit"])).stdout;
      const path = `${dir}/hoop-agent.service`;
      await Deno.writeTextFile(path, printed);
      const out = await new Deno.Command("systemd-analyze", {
        args: ["verify", path],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, text);
      assert.equal(text.trim(), "", "no warnings");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the agent serves as an unprivileged user with no new privileges and no writable home", async () => {
  await using gw = await startGateway();
  const admin = await signupAdmin(gw);
  const dsn = (await hoopOk(["admin", "create", "agent", "unit-agent"], { env: admin.env }))
    .stdout.trim();
  await hoopOk(
    ["admin", "create", "connection", "unit-echo", "--agent", "unit-agent", "--command", "id -u"],
    { env: admin.env },
  );
  // Deno's module cache, readable by that user (a compiled binary needs none).
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const cache = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir as string;
  const denoDir = await Deno.makeTempDir({ prefix: "hoop-unit-deno-" });
  await new Deno.Command("cp", { args: ["-r", `${cache}/.`, denoDir] }).output();
  await new Deno.Command("chown", { args: ["-R", "nobody:nogroup", denoDir] }).output();
  const child = new Deno.Command("setpriv", {
    args: [
      "--reuid=nobody",
      "--regid=nogroup",
      "--clear-groups",
      "--no-new-privs",
      Deno.execPath(),
      "run",
      "--quiet",
      "--config",
      CONFIG,
      ...PERMISSIONS,
      MAIN,
      "start",
      "agent",
    ],
    cwd: "/",
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: "/nonexistent",
      DENO_DIR: denoDir,
      NO_COLOR: "1",
      HOOP_KEY: dsn,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const log = new LogBuffer("agent as nobody");
  void (async () => {
    for await (const c of child.stderr) log.append(new TextDecoder().decode(c));
  })();
  void child.stdout.cancel();
  try {
    await log.waitFor(/connected to the gateway/);
    const agent = await waitFor(async () => {
      const all = JSON.parse(
        (await hoopOk(["admin", "get", "agents", "-o", "json"], { env: admin.env })).stdout,
      ) as { name: string; status: string; version: string }[];
      const a = all.find((x) => x.name === "unit-agent");
      return a?.status === "ONLINE" ? a : undefined;
    }, { message: "unit-agent ONLINE" });
    assert.equal(agent!.version, VERSION, "the agent reports hoop version's version");
    const exec = await hoop(["exec", "unit-echo"], { env: admin.env });
    assert.equal(exec.code, 0, exec.stderr);
    const nobody = new TextDecoder().decode(
      (await new Deno.Command("id", { args: ["-u", "nobody"], stdout: "piped" }).output()).stdout,
    ).trim();
    assert.equal(exec.stdout.trim(), nobody, "the agent's commands run as the unprivileged user");
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0, log.text);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited.
    }
    await child.status;
    await Deno.remove(denoDir, { recursive: true });
  }
});

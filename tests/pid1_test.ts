/**
 * `hoop run -- APP` as a container's PID 1. No container engine runs here,
 * so these tests stand in for one: `unshare --pid --fork --mount-proc` makes
 * hoop process 1 of a new PID namespace (the kernel then gives it no default
 * signal actions and re-parents orphans to it), with `HOME=/nonexistent` and
 * `/proc` (which nobody can write files in) as the working directory.
 * Signals are sent from outside the namespace, to hoop's outer pid.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { PERMISSIONS } from "../scripts/compile.ts";
import {
  type GatewayProcess,
  hoop,
  hoopOk,
  type Identity,
  LogBuffer,
  MAIN,
  signupAdmin,
  startGateway,
  waitFor,
} from "./_harness.ts";

const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));
const UNSHARE_WORKS = await new Deno.Command("unshare", {
  args: ["--pid", "--fork", "--mount-proc", "true"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

/** Deno's cache, which a run with HOME=/nonexistent must still find (a compiled binary needs none). */
async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

interface Pid1Run {
  /** hoop's pid outside the namespace (inside, it is 1). */
  pid: number;
  log: LogBuffer;
  /** Standard output alone: the application's; hoop writes its own lines to stderr. */
  stdout(): string;
  status: Promise<Deno.CommandStatus>;
  signal(sig: Deno.Signal): void;
}

async function runAsPid1(gw: GatewayProcess, key: string, args: string[]): Promise<Pid1Run> {
  const child = new Deno.Command("unshare", {
    args: [
      "--pid",
      "--fork",
      "--mount-proc",
      Deno.execPath(),
      "run",
      "--quiet",
      "--config",
      CONFIG,
      ...PERMISSIONS,
      MAIN,
      "run",
      ...args,
    ],
    cwd: "/proc",
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: "/nonexistent",
      DENO_DIR: await denoDir(),
      NO_COLOR: "1",
      HOOP_KEY: key,
      ...gw.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const log = new LogBuffer("hoop run as pid 1");
  let stdout = "";
  const pump = async (s: ReadableStream<Uint8Array>, onText?: (t: string) => void) => {
    for await (const chunk of s) {
      const text = new TextDecoder().decode(chunk);
      onText?.(text);
      log.append(text);
    }
  };
  void pump(child.stdout, (t) => stdout += t);
  void pump(child.stderr);
  const pid = await waitFor(
    async () => (await childrenOf(child.pid))[0]?.pid,
    { message: "hoop started inside the namespace" },
  );
  return {
    pid: pid!,
    log,
    stdout: () => stdout,
    status: child.status,
    signal: (sig) => Deno.kill(pid!, sig),
  };
}

/** A generous deadline for hoop to exit after what should end it; past it, the test fails. */
const EXIT_DEADLINE_MS = 60_000;

/** hoop's exit status; SIGKILL to PID 1 (ending the namespace) and an error past the deadline. */
async function exited(run: Pid1Run): Promise<Deno.CommandStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.signal("SIGKILL");
      reject(new Error(`hoop did not exit within ${EXIT_DEADLINE_MS} ms\n${run.log.text}`));
    }, EXIT_DEADLINE_MS);
  });
  try {
    return await Promise.race([run.status, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `pid`'s children as `ps` sees them (Deno itself may not read /proc without --allow-all). */
async function childrenOf(pid: number): Promise<{ pid: number; comm: string; state: string }[]> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "pid=,stat=,comm=", "--ppid", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).map((l) => {
    const [p, stat, comm] = l.trim().split(/\s+/);
    return { pid: Number(p), state: stat[0], comm };
  });
}

async function connectionStatus(admin: Identity, name: string): Promise<string> {
  const out = await hoopOk(["admin", "get", "connections", "-o", "json"], { env: admin.env });
  const conns = JSON.parse(out.stdout) as { name: string; status: string }[];
  return conns.find((c) => c.name === name)?.status ?? "absent";
}

Deno.test({
  name: "hoop run as PID 1 (unshare stands in for a container engine)",
  ignore: !UNSHARE_WORKS,
  async fn(t) {
    await using gw = await startGateway();
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();

    await t.step("signals reach the application; its exit code is hoop's", async () => {
      const run = await runAsPid1(gw, key, [
        "--name",
        "pid1-signals",
        "--command",
        "true",
        "--",
        "sh",
        "-c",
        'trap "echo got-HUP" HUP; trap "echo got-INT" INT; trap "echo got-QUIT" QUIT; ' +
        'trap "echo got-TERM; exit 42" TERM; ' +
        "echo ready; while :; do sleep 0.1; done",
      ]);
      await run.log.waitFor(/ready/);
      run.signal("SIGHUP");
      await run.log.waitFor(/got-HUP/);
      run.signal("SIGINT");
      await run.log.waitFor(/got-INT/);
      run.signal("SIGQUIT");
      await run.log.waitFor(/got-QUIT/);
      run.signal("SIGTERM");
      await run.log.waitFor(/got-TERM/);
      assert.equal((await exited(run)).code, 42);
      assert.equal(
        run.stdout(),
        "ready\ngot-HUP\ngot-INT\ngot-QUIT\ngot-TERM\n",
        "stdout is the app's",
      );
    });

    await t.step(
      "an application leading its process group has the signal sent to the group",
      async () => {
        // setsid makes the app (same pid) lead a new group; its sleep is in that group. Without
        // the group, the sleep would never get SIGTERM and the app's trap would wait for ever.
        const run = await runAsPid1(gw, key, [
          "--name",
          "pid1-group",
          "--command",
          "true",
          "--",
          "setsid",
          "sh",
          "-c",
          "sleep 600 & s=$!; trap 'wait $s; echo sleep-ended-$?; exit 5' TERM; echo ready; wait $s",
        ]);
        await run.log.waitFor(/ready/);
        await waitFor(async () => (await childrenOf(run.pid)).some((c) => c.comm === "sh"));
        run.signal("SIGTERM");
        assert.equal((await exited(run)).code, 5, run.log.text);
        assert.match(run.stdout(), /sleep-ended-143/);
      },
    );

    await t.step("an application ended by a signal gives 128+signal", async () => {
      const run = await runAsPid1(gw, key, [
        "--name",
        "pid1-exit",
        "--command",
        "true",
        "--",
        "sh",
        "-c",
        "echo ready; exec sleep 600",
      ]);
      await run.log.waitFor(/ready/);
      // The exec'd sleep must be running before the signal, or sh would get it.
      await waitFor(async () => (await childrenOf(run.pid)).some((c) => c.comm === "sleep"));
      run.signal("SIGTERM");
      assert.equal((await exited(run)).code, 128 + 15);
    });

    await t.step("an application ignoring SIGTERM gets SIGKILL after --stop-timeout", async () => {
      const run = await runAsPid1(gw, key, [
        "--name",
        "pid1-stubborn",
        "--command",
        "true",
        "--stop-timeout",
        "1s",
        "--",
        "sh",
        "-c",
        'trap "" TERM; echo ready; while :; do sleep 0.1; done',
      ]);
      await run.log.waitFor(/ready/);
      run.signal("SIGTERM");
      assert.equal((await exited(run)).code, 128 + 9);
      assert.match(run.log.text, /did not exit within 1 s of SIGTERM: sending SIGKILL/);
    });

    await t.step("a second SIGTERM sends SIGKILL at once", async () => {
      const run = await runAsPid1(gw, key, [
        "--name",
        "pid1-twice",
        "--command",
        "true",
        "--",
        "sh",
        "-c",
        'trap "echo got-TERM" TERM; echo ready; while :; do sleep 0.1; done',
      ]);
      await run.log.waitFor(/ready/);
      run.signal("SIGTERM");
      await run.log.waitFor(/got-TERM/);
      run.signal("SIGTERM");
      assert.equal((await exited(run)).code, 128 + 9);
      assert.match(run.log.text, /second SIGTERM: sending SIGKILL/);
    });

    await t.step(
      "orphans of a double-forking app are reaped while the agent serves; it goes OFFLINE after",
      async () => {
        const dir = await Deno.makeTempDir({ prefix: "hoop-pid1-" });
        const run = await runAsPid1(gw, key, [
          "--name",
          "pid1-served",
          "--command",
          "echo served-by-pid1",
          "--",
          "sh",
          "-c",
          // The inner sh exits at once: its background sleep is orphaned to PID 1. The app
          // itself runs until the test says so (no race with a timer).
          `sh -c "sleep 600 &"; echo ready; while [ ! -e ${dir}/done ]; do sleep 0.1; done; exit 3`,
        ]);
        await run.log.waitFor(/ready/);
        const orphan = await waitFor(
          async () => (await childrenOf(run.pid)).find((k) => k.comm === "sleep"),
          { message: "the orphaned sleep re-parented to hoop" },
        );
        await waitFor(async () => (await connectionStatus(admin, "pid1-served")) === "ONLINE");
        // The agent's own children (this exec) are Deno's to wait for, not the reaper's.
        const exec = await hoop(["exec", "pid1-served"], { env: admin.env });
        assert.equal(exec.code, 0, exec.stderr);
        assert.match(exec.stdout, /served-by-pid1/);
        // Its end makes it a zombie child of PID 1 until hoop reaps it.
        Deno.kill(orphan!.pid, "SIGKILL");
        let kids: { pid: number; comm: string; state: string }[] = [];
        await waitFor(async () => {
          kids = await childrenOf(run.pid);
          // The app is still there; the orphan is gone, not a zombie.
          return kids.some((k) => k.comm === "sh") && kids.every((k) => k.state !== "Z") &&
            !kids.some((k) => k.pid === orphan!.pid);
        }, { message: "orphan reaped while the app runs" }).catch(async (err) => {
          // SIGKILL to PID 1 ends the whole namespace.
          run.signal("SIGKILL");
          await run.status;
          await Deno.remove(dir, { recursive: true });
          throw new Error(
            `${err.message}\nhoop's children: ${JSON.stringify(kids)}\n${run.log.text}`,
          );
        });
        await Deno.writeTextFile(`${dir}/done`, "");
        assert.equal((await exited(run)).code, 3);
        await waitFor(async () => (await connectionStatus(admin, "pid1-served")) === "OFFLINE", {
          message: "connection OFFLINE after the app exited",
        });
        assert.doesNotMatch(run.log.text, /nonexistent|read-only|EACCES/i);
        await Deno.remove(dir, { recursive: true });
      },
    );
  },
});

/**
 * `hoop connect` to command connections: an interactive console, driven from
 * a real pseudo-terminal the way a person types into it. Keystrokes, Ctrl-C,
 * window resizes and the exit code cross the CLI, the gateway and the agent.
 */
import assert from "node:assert/strict";
import { PTY_SUPPORTED } from "../agent/pty.ts";
import {
  hoopOk,
  type Identity,
  signupAdmin,
  spawnHoop,
  startAgent,
  startGateway,
} from "./_harness.ts";
import { type PtyDriver, spawnHoopInPty } from "./_pty_driver.ts";

if (!PTY_SUPPORTED) console.warn("console_test skipped: no pseudo-terminal support (--allow-ffi)");

/** The size python prints, and its next prompt (so the next keystrokes meet a reading REPL). */
const SIZE = /os\.terminal_size\(columns=(\d+), lines=(\d+)\)\n>>> /;

/** Open a console on `name` in a fresh 91x27 terminal and wait for `prompt`. */
async function openConsole(
  admin: Identity,
  name: string,
  prompt: string | RegExp,
): Promise<PtyDriver> {
  const term = spawnHoopInPty(["connect", name], { env: admin.env, cols: 91, rows: 27 });
  try {
    await term.waitFor(prompt);
  } catch (err) {
    await term.stop();
    throw err;
  }
  return term;
}

/** Type `line` and Enter, then wait for `want` in the output that follows. */
async function typeLine(term: PtyDriver, line: string, want: RegExp | string) {
  const since = term.mark();
  await term.type(line + "\r");
  return await term.waitFor(want, { since });
}

Deno.test({
  name: "hoop connect opens an interactive console on a command connection",
  ignore: !PTY_SUPPORTED,
  async fn(t) {
    const gw = await startGateway();
    const cleanup: (() => Promise<unknown>)[] = [];
    try {
      const admin = await signupAdmin(gw);
      const key = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
      const run = spawnHoop("run py", ["run", "--name", "py", "--command", "python3 -q -i"], {
        env: { HOOP_KEY: key },
      });
      cleanup.push(() => run.stop());
      await run.log.waitFor(/connected to the gateway/);

      const term = await openConsole(admin, "py", ">>> ");
      cleanup.push(() => term.stop());

      await t.step("typed input is evaluated and echoed back", async () => {
        await typeLine(term, "print(6*7)", /print\(6\*7\)\n42\n>>> /);
      });

      await t.step("the terminal size, then a resize of the outer terminal", async () => {
        const m = await typeLine(term, "import os; print(os.get_terminal_size())", SIZE);
        assert.deepEqual([m[1], m[2]], ["91", "27"]);
        term.resize(120, 40);
        // SIGWINCH reaches hoop asynchronously: ask until the new size shows, with a deadline.
        const deadline = Date.now() + 15_000;
        for (;;) {
          const s = await typeLine(term, "print(os.get_terminal_size())", SIZE);
          if (s[1] === "120" && s[2] === "40") break;
          assert.ok(Date.now() < deadline, `the size stayed ${s[0]}`);
        }
      });

      await t.step("Ctrl-C interrupts a running statement, the console stays", async () => {
        const since = term.mark();
        // The marker is printed only once the statement runs (the echo shows 'zz'+'top').
        await term.type("import time; print('zz'+'top'); time.sleep(30)\r");
        await term.waitFor(/\nzztop\n/, { since });
        await term.type("\x03");
        await term.waitFor(/Traceback[^]*KeyboardInterrupt\n>>> /, { since });
        const busy = term.mark();
        // The marker is printed from inside the loop, so the Ctrl-C below cannot land
        // while python is still reading the loop's lines (it once did, under load).
        await term.type(
          "exec(\"i = 0\\nwhile True:\\n    i += 1\\n    if i == 200000: print('spin' + 'ning', flush=True)\")\r",
        );
        await term.waitFor(/\nspinning\n/, { since: busy });
        await term.type("\x03");
        await term.waitFor(/KeyboardInterrupt\n>>> /, { since: busy });
        await typeLine(term, "print(6*7)", /\n42\n>>> /);
      });

      await t.step("exit(5) ends hoop connect with exit code 5", async () => {
        await term.type("exit(5)\r");
        const status = await term.close();
        assert.equal(status.code, 5, term.screen.slice(-500));
      });

      await t.step("a standard agent's sh console: stty size and the exit code", async () => {
        const devKey = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env }))
          .stdout.trim();
        const dev = await startAgent(devKey);
        cleanup.push(() => dev.stop());
        await hoopOk([
          "admin",
          "create",
          "connection",
          "shell",
          "--agent",
          "dev",
          "--command",
          "sh",
        ], {
          env: admin.env,
        });
        const sh = await openConsole(admin, "shell", /[$#] $/);
        cleanup.push(() => sh.stop());
        // The echo of typed keys may land before the prompt: match the numbers, not line starts.
        const first = await typeLine(sh, "stty size", /(\d+) (\d+)\n[$#] /);
        assert.deepEqual([first[1], first[2]], ["27", "91"]);
        sh.resize(100, 30);
        const deadline = Date.now() + 15_000;
        for (;;) {
          const m = await typeLine(sh, "stty size", /(\d+) (\d+)\n[$#] /);
          if (m[1] === "30" && m[2] === "100") break;
          assert.ok(Date.now() < deadline, `the size stayed ${m[0]}`);
        }
        await sh.type("exit 3\r");
        assert.equal((await sh.close()).code, 3, sh.screen.slice(-500));
      });

      await t.step("the agent is killed mid-session: hoop connect fails, no hang", async () => {
        const c = await openConsole(admin, "py", ">>> ");
        cleanup.push(() => c.stop());
        await typeLine(c, "print(6*7)", /\n42\n>>> /);
        run.kill("SIGKILL");
        const status = await c.close(20_000);
        assert.notEqual(status.signal, "SIGKILL", "hoop connect hung and was killed");
        assert.notEqual(status.code, 0);
        assert.match(c.screen, /\nhoop: Console on "py" ended without an exit code: .+/);
      });
    } finally {
      for (const c of cleanup.reverse()) await c().catch(() => {});
      await gw.stop();
    }
  },
});

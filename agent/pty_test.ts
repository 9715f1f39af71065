import assert from "node:assert/strict";
import { PTY_SUPPORTED, type PtyProcess, spawnPty } from "./pty.ts";

const WAIT_MS = 15_000;

/** Reads a pty to its end in the background; `waitFor` resolves once the output matches. */
function collect(pty: PtyProcess) {
  const decoder = new TextDecoder();
  let text = "";
  let wake = () => {};
  const done = (async () => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await pty.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
      wake();
    }
    wake();
    return text;
  })();
  let ended = false;
  done.finally(() => ended = true);
  return {
    get text() {
      return text;
    },
    done,
    /** Waits (with a deadline, no sleeping) until the output matches `pattern`. */
    async waitFor(pattern: string | RegExp): Promise<void> {
      const deadline = Date.now() + WAIT_MS;
      const matches = () =>
        typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
      while (!matches()) {
        if (ended) throw new Error(`Output ended without ${pattern}: ${JSON.stringify(text)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`Timed out waiting for ${pattern}: ${JSON.stringify(text)}`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
      }
    },
  };
}

const encode = (s: string) => new TextEncoder().encode(s);

Deno.test({
  name: "spawnPty() runs an interactive python3 REPL",
  ignore: !PTY_SUPPORTED,
  async fn() {
    const pty = spawnPty(["python3", "-q", "-i"], { cols: 80, rows: 24 });
    try {
      const out = collect(pty);
      await out.waitFor(">>> ");
      await pty.write(encode("print(6*7)\n"));
      // Ctrl-D typed before the next prompt can be lost while readline switches the
      // terminal's mode (seen: the REPL waited for ever), so wait for the prompt first.
      await out.waitFor(/\r\n42\r\n>>> /);
      await pty.write(encode("\x04")); // Ctrl-D at the prompt leaves the REPL
      assert.deepEqual(await pty.status, { code: 0, signal: null });
      await out.done;
    } finally {
      pty.close();
    }
  },
});

Deno.test({
  name: "spawnPty() sets the window size and resize() changes it",
  ignore: !PTY_SUPPORTED,
  async fn() {
    const pty = spawnPty(["sh", "-c", "stty size; read line; stty size"], { cols: 91, rows: 33 });
    try {
      const out = collect(pty);
      await out.waitFor("33 91\r\n");
      pty.resize(120, 40);
      await pty.write(encode("\n"));
      await out.waitFor("40 120\r\n");
      assert.equal((await pty.status).code, 0);
    } finally {
      pty.close();
    }
  },
});

Deno.test({
  name: "resize() delivers SIGWINCH to the program",
  ignore: !PTY_SUPPORTED,
  async fn() {
    // Not signal.pause(): a SIGWINCH landing before it would leave it waiting for ever.
    const script = [
      "import os, signal, time",
      "seen = []",
      "def on_winch(*a):",
      "    seen.append(1)",
      "    print('winch', *os.get_terminal_size(), flush=True)",
      "signal.signal(signal.SIGWINCH, on_winch)",
      "print('ready', flush=True)",
      "for _ in range(400):",
      "    if seen: break",
      "    time.sleep(0.05)",
    ].join("\n");
    const pty = spawnPty(["python3", "-c", script], { cols: 80, rows: 24 });
    try {
      const out = collect(pty);
      await out.waitFor("ready");
      pty.resize(132, 50);
      await out.waitFor("winch 132 50");
      assert.equal((await pty.status).code, 0);
    } finally {
      pty.close();
    }
  },
});

Deno.test({
  name: "spawnPty() turns Ctrl-C into SIGINT for the foreground program",
  ignore: !PTY_SUPPORTED,
  async fn(t) {
    await t.step("python3 sees KeyboardInterrupt", async () => {
      const pty = spawnPty(
        ["python3", "-c", "import time; print('ready', flush=True); time.sleep(30)"],
        { cols: 80, rows: 24 },
      );
      try {
        const out = collect(pty);
        await out.waitFor("ready");
        await pty.write(encode("\x03"));
        await out.waitFor("KeyboardInterrupt");
        assert.equal((await pty.status).code, 130);
      } finally {
        pty.close();
      }
    });
    await t.step("sh and its sleep are interrupted", async () => {
      const pty = spawnPty(["sh", "-c", "echo ready; sleep 30; echo not-interrupted"], {
        cols: 80,
        rows: 24,
      });
      try {
        const out = collect(pty);
        await out.waitFor("ready");
        // Rarely (about 1 run in 10 on a loaded machine) the first Ctrl-C lands while
        // sh is between its echo and the sleep and is lost; a user presses it again,
        // and so does this test, a bounded number of times, each with a deadline.
        let status: Awaited<typeof pty.status> | undefined;
        for (let i = 0; i < 5 && !status; i++) {
          await pty.write(encode("\x03"));
          status = await Promise.race([
            pty.status,
            new Promise<undefined>((r) => setTimeout(() => r(undefined), 2_000)),
          ]);
        }
        assert.deepEqual(status, { code: 130, signal: "SIGINT" });
        assert.doesNotMatch(await out.done, /not-interrupted/);
      } finally {
        pty.close();
      }
    });
  },
});

Deno.test({
  name: "spawnPty() reports the exit code and signal of the program",
  ignore: !PTY_SUPPORTED,
  async fn() {
    const exited = spawnPty(["sh", "-c", "exit 3"], { cols: 80, rows: 24 });
    try {
      assert.deepEqual(await exited.status, { code: 3, signal: null });
      assert.equal(await collect(exited).done, "");
    } finally {
      exited.close();
    }
    const killed = spawnPty(["sleep", "30"], { cols: 80, rows: 24 });
    try {
      killed.kill("SIGKILL");
      assert.deepEqual(await killed.status, { code: 137, signal: "SIGKILL" });
      killed.kill(); // after exit: a no-op, not a throw
    } finally {
      killed.close();
    }
  },
});

Deno.test({
  name: "read() returns every byte of a large output before the end",
  ignore: !PTY_SUPPORTED,
  async fn() {
    const size = 3 * 1024 * 1024;
    const pty = spawnPty(["sh", "-c", `head -c ${size} /dev/zero | tr '\\0' x; echo END`], {
      cols: 80,
      rows: 24,
    });
    try {
      const text = await collect(pty).done;
      assert.equal(text.length, size + "END\r\n".length);
      assert.equal(text.indexOf("END"), size);
      assert.equal((await pty.status).code, 0);
    } finally {
      pty.close();
    }
  },
});

Deno.test({
  name: "write() delivers large input to a program that reads slowly",
  ignore: !PTY_SUPPORTED,
  async fn() {
    // Raw mode: no line-length limit and no echo, so the count is exactly what was written.
    const size = 512 * 1024;
    const pty = spawnPty(
      ["sh", "-c", `stty raw -echo; echo ready; head -c ${size} | wc -c`],
      { cols: 80, rows: 24 },
    );
    try {
      const out = collect(pty);
      await out.waitFor("ready");
      await pty.write(new Uint8Array(size).fill(0x61));
      await out.waitFor(new RegExp(`\\b${size}\\b`));
      assert.equal((await pty.status).code, 0);
    } finally {
      pty.close();
    }
  },
});

Deno.test({
  name: "close() ends pending reads and hangs up the program",
  ignore: !PTY_SUPPORTED,
  async fn() {
    const pty = spawnPty(["sh", "-c", "echo ready; sleep 30"], { cols: 80, rows: 24 });
    const out = collect(pty);
    await out.waitFor("ready");
    pty.close();
    pty.close();
    await out.done;
    assert.equal((await pty.status).signal, "SIGHUP");
    assert.equal(await pty.read(new Uint8Array(16)), null);
    await assert.rejects(pty.write(encode("x")), /closed/);
  },
});

Deno.test({
  name: "spawnPty() runs in the given directory with the given environment",
  ignore: !PTY_SUPPORTED,
  async fn() {
    const dir = await Deno.makeTempDir();
    const pty = spawnPty(["sh", "-c", 'echo "$PWD $HOOP_TEST_VAR $TERM"'], {
      cols: 80,
      rows: 24,
      cwd: dir,
      env: { HOOP_TEST_VAR: "hello" },
    });
    try {
      const text = await collect(pty).done;
      assert.equal(text, `${await Deno.realPath(dir)} hello xterm-256color\r\n`);
    } finally {
      pty.close();
      await Deno.remove(dir);
    }
  },
});

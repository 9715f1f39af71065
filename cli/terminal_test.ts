import assert from "node:assert/strict";
import { PTY_SUPPORTED, type PtyProcess, spawnPty } from "../agent/pty.ts";
import { enterRawMode, onResize, terminalSize } from "./terminal.ts";

const WAIT_MS = 20_000;
const TERMINAL_URL = new URL("./terminal.ts", import.meta.url).href;

/** Reads a pty to its end in the background; `waitFor` resolves once the output has `text`. */
function collect(pty: PtyProcess) {
  let text = "";
  let wake = () => {};
  const done = (async () => {
    const decoder = new TextDecoder();
    const buf = new Uint8Array(64 * 1024);
    for (let n; (n = await pty.read(buf)) !== null;) {
      text += decoder.decode(buf.subarray(0, n), { stream: true });
      wake();
    }
    wake();
  })();
  let ended = false;
  done.finally(() => ended = true);
  return {
    async waitFor(wanted: string): Promise<void> {
      const deadline = Date.now() + WAIT_MS;
      while (!text.includes(wanted)) {
        const left = deadline - Date.now();
        if (ended || left <= 0) {
          throw new Error(`No ${JSON.stringify(wanted)} in ${JSON.stringify(text)}`);
        }
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

/** Writes a script using cli/terminal.ts to a temp file and returns its path. */
async function writeScript(body: string): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    path,
    `import { enterRawMode, onResize, terminalSize } from ${JSON.stringify(TERMINAL_URL)};\n` +
      `const log = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\\r\\n"));\n` +
      body,
  );
  return path;
}

Deno.test("terminal helpers fall back without a terminal", () => {
  // Under `deno test` stdin is not the user's terminal when run by CI; both paths must not throw.
  const restore = enterRawMode();
  restore();
  restore();
  const size = terminalSize();
  assert.ok(size.cols > 0 && size.rows > 0);
  const unsubscribe = onResize(() => {});
  unsubscribe();
  unsubscribe();
});

Deno.test({
  name: "a console client sees raw keys, its size and resizes, and restores cooked mode",
  ignore: !PTY_SUPPORTED,
  async fn(t) {
    await t.step("raw mode, size and SIGWINCH inside a real terminal", async () => {
      const script = await writeScript(`
const first = terminalSize();
log(\`size \${first.cols}x\${first.rows}\`);
const restore = enterRawMode();
const unsubscribe = onResize((s) => log(\`resized \${s.cols}x\${s.rows}\`));
log("raw");
const buf = new Uint8Array(1);
await Deno.stdin.read(buf);
log(\`byte \${buf[0]}\`);
unsubscribe();
restore();
restore();
const { stdout } = await new Deno.Command("stty", { args: ["-a"], stdin: "inherit" }).output();
log(/(^|[\\s;])icanon/.test(new TextDecoder().decode(stdout)) ? "cooked" : "still raw");
`);
      const pty = spawnPty([Deno.execPath(), "run", "--allow-run", script], {
        cols: 100,
        rows: 30,
      });
      try {
        const out = collect(pty);
        await out.waitFor("size 100x30");
        await out.waitFor("raw");
        pty.resize(120, 40);
        await out.waitFor("resized 120x40");
        await pty.write(new Uint8Array([3])); // Ctrl-C arrives as a byte, not as SIGINT
        await out.waitFor("byte 3");
        await out.waitFor("cooked");
        assert.equal((await pty.status).code, 0);
      } finally {
        pty.close();
        await Deno.remove(script);
      }
    });
  },
});

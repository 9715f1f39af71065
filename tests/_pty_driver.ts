/**
 * Drive a program as a person at a terminal would: run it behind a real
 * pseudo-terminal (`agent/pty.ts`), type keystrokes, read what it shows, and
 * resize the window. The console tests run the hoop CLI itself this way, so
 * raw mode, SIGWINCH and Ctrl-C take the same path as for a user.
 *
 * "The screen" here is the output stream with ANSI escape sequences removed,
 * not an emulated grid: enough to assert on lines a REPL prints.
 *
 * @module
 */
import { type PtyProcess, spawnPty } from "../agent/pty.ts";
import { hoopArgv } from "./_harness.ts";

/** Keep at most this much output in memory; older text is dropped (tests look at recent lines). */
const MAX_OUTPUT_CHARS = 4 * 1024 * 1024;
const READ_BUFFER_BYTES = 64 * 1024;

/** Options of {@linkcode spawnInPty}. */
export interface PtyDriverOptions {
  /** Initial window width; default 80. */
  cols?: number;
  /** Initial window height; default 24. */
  rows?: number;
  /** Extra environment variables (merged over this process's environment). */
  env?: Record<string, string>;
  cwd?: string;
}

/** A program behind a pseudo-terminal, with a keyboard and a screen. */
export interface PtyDriver extends AsyncDisposable {
  readonly pid: number;
  /** Everything the program wrote so far, escape sequences removed. */
  readonly screen: string;
  /** Raw output, escape sequences included. */
  readonly raw: string;
  /** An offset into {@linkcode screen}: pass it to `waitFor` to look only at later output. */
  mark(): number;
  /** Type text (control characters included: `"\x03"` is Ctrl-C, `"\r"` is Enter). */
  type(keys: string): Promise<void>;
  /** Wait until the screen (from `since`) matches; returns the match. */
  waitFor(
    pattern: RegExp | string,
    opts?: { since?: number; timeoutMs?: number },
  ): Promise<RegExpMatchArray>;
  /** Resize the window: the kernel sends SIGWINCH to the program. */
  resize(cols: number, rows: number): void;
  /** Send a signal to the program. */
  kill(signal?: Deno.Signal): void;
  /** Exit status; `code` is 128 + n after signal n. */
  readonly status: Promise<{ code: number; signal: string | null }>;
  /** Wait for the exit (killing after `timeoutMs`), then release the terminal. */
  close(timeoutMs?: number): Promise<{ code: number; signal: string | null }>;
  /** SIGTERM, then {@linkcode PtyDriver.close} (SIGKILL after 5 s); for cleanups. */
  stop(): Promise<{ code: number; signal: string | null }>;
}

// CSI (ESC [ ... final), OSC (ESC ] ... BEL/ST), and two-byte ESC sequences.
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_=>]/g;

/** Remove terminal escape sequences and carriage returns. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, "").replaceAll("\r", "");
}

/** Start `argv` behind a new pseudo-terminal and keep reading its output. */
export function spawnInPty(argv: string[], opts: PtyDriverOptions = {}): PtyDriver {
  const pty: PtyProcess = spawnPty(argv, {
    cols: opts.cols ?? 80,
    rows: opts.rows ?? 24,
    env: opts.env,
    cwd: opts.cwd,
  });
  const decoder = new TextDecoder();
  let raw = "";
  let screen = "";
  let ended = false;
  let wake = () => {};
  const reading = (async () => {
    const buf = new Uint8Array(READ_BUFFER_BYTES);
    for (;;) {
      const n = await pty.read(buf).catch(() => null);
      if (n === null) break;
      raw += decoder.decode(buf.subarray(0, n), { stream: true });
      // An escape sequence may be split across reads: strip only up to the last ESC.
      const cut = raw.lastIndexOf("\x1b");
      const done = cut >= 0 && raw.length - cut < 64 ? raw.slice(0, cut) : raw;
      screen = stripAnsi(done);
      if (raw.length > MAX_OUTPUT_CHARS) {
        const drop = raw.length - MAX_OUTPUT_CHARS / 2;
        // Marks taken before this point shift; tests never print this much.
        raw = raw.slice(drop);
      }
      wake();
    }
    screen = stripAnsi(raw);
    ended = true;
    wake();
  })();

  async function waitFor(
    pattern: RegExp | string,
    o: { since?: number; timeoutMs?: number } = {},
  ): Promise<RegExpMatchArray> {
    const timeoutMs = o.timeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    const re = typeof pattern === "string"
      ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      : pattern;
    for (;;) {
      const m = screen.slice(o.since ?? 0).match(re);
      if (m) return m;
      const left = deadline - Date.now();
      if (ended || left <= 0) {
        throw new Error(
          `${ended ? "Output ended" : `Timed out after ${timeoutMs} ms`} without ${re}; ` +
            `screen since mark:\n${screen.slice(o.since ?? 0).slice(-3000)}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  let closed = false;
  async function close(timeoutMs = 10_000) {
    const timer = setTimeout(() => pty.kill("SIGKILL"), timeoutMs);
    const s = await pty.status;
    clearTimeout(timer);
    if (!closed) {
      closed = true;
      // The reader drains what is left, then sees the hang-up.
      await Promise.race([reading, new Promise((r) => setTimeout(r, 2000))]);
      pty.close();
    }
    return s;
  }

  function stop() {
    pty.kill("SIGTERM");
    return close(5000);
  }

  return {
    pid: pty.pid,
    get screen() {
      return screen;
    },
    get raw() {
      return raw;
    },
    mark: () => screen.length,
    type: (keys) => pty.write(new TextEncoder().encode(keys)),
    waitFor,
    resize: (cols, rows) => pty.resize(cols, rows),
    kill: (signal) => pty.kill(signal),
    status: pty.status,
    close,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/** Run `hoop ARGS` (this checkout's CLI) behind a pseudo-terminal. */
export function spawnHoopInPty(args: string[], opts: PtyDriverOptions = {}): PtyDriver {
  return spawnInPty([Deno.execPath(), ...hoopArgv(args)], {
    ...opts,
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...opts.env },
  });
}

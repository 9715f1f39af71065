/**
 * The world a CLI command sees: its output streams, its input, its
 * environment and its home directory. Commands never touch `Deno.stdout`,
 * `Deno.env` or `console.*` directly, so tests can run them in-process with
 * {@linkcode captureContext} and read what they printed.
 *
 * @module
 */

import { join } from "node:path";

/** An output stream: standard output or standard error. */
export interface Output {
  /** Write bytes or UTF-8 text, completely. */
  write(data: Uint8Array | string): Promise<void>;
  /** Write a line of text followed by a newline. */
  writeln(text?: string): Promise<void>;
  /** True when the stream is a terminal. */
  readonly isTerminal: boolean;
}

/** Standard input, buffered so that a command can read a line and then the rest. */
export interface Input {
  /** Read the first line (without its line ending); `null` at end of input. */
  readLine(): Promise<string | null>;
  /** Read everything up to the end of input. */
  readAll(): Promise<Uint8Array>;
  /** The unread rest of the input as a stream, for commands that relay it. */
  readonly readable: ReadableStream<Uint8Array>;
}

/** What a command may use of the outside world. */
export interface Context {
  stdout: Output;
  stderr: Output;
  stdin: Input;
  /** Read an environment variable; `undefined` when unset or not permitted. */
  env(name: string): string | undefined;
  /** True when standard input is a terminal (a person can be prompted). */
  isTerminal: boolean;
  /** The CLI's state directory: `HOOP_HOME`, or `~/.hoop`. */
  home: string;
  /**
   * Prompt for a secret on the terminal without echoing it. The prompt goes to
   * stderr. Only called when {@linkcode Context.isTerminal} is true.
   */
  promptSecret(prompt: string): Promise<string>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/** An {@linkcode Output} over a `Deno.stdout`-like writer. */
export function writerOutput(
  writer: { write(p: Uint8Array): Promise<number>; isTerminal(): boolean },
): Output {
  const isTerminal = writer.isTerminal();
  async function write(data: Uint8Array | string): Promise<void> {
    let bytes = toBytes(data);
    // write() may accept fewer bytes than given (a pipe that is nearly full).
    while (bytes.byteLength > 0) {
      const n = await writer.write(bytes);
      bytes = bytes.subarray(n);
    }
  }
  return {
    write,
    writeln: (text = "") => write(text + "\n"),
    isTerminal,
  };
}

/** An {@linkcode Input} reading from a byte stream, fetched lazily on first use. */
export function streamInput(source: () => ReadableStream<Uint8Array>): Input {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  // Bytes read past the end of a line, handed out by the next read.
  let pending: Uint8Array = new Uint8Array(0);
  let done = false;

  function getReader(): ReadableStreamDefaultReader<Uint8Array> {
    reader ??= source().getReader();
    return reader;
  }

  async function pull(): Promise<boolean> {
    if (done) return false;
    const { value, done: end } = await getReader().read();
    if (end) {
      done = true;
      return false;
    }
    pending = concat([pending, value]);
    return true;
  }

  return {
    async readLine() {
      while (true) {
        const nl = pending.indexOf(0x0a);
        if (nl >= 0) {
          const line = pending.subarray(0, nl);
          pending = pending.slice(nl + 1);
          return decoder.decode(line).replace(/\r$/, "");
        }
        if (!await pull()) break;
      }
      if (pending.byteLength === 0) return null;
      const line = decoder.decode(pending).replace(/\r$/, "");
      pending = new Uint8Array(0);
      return line;
    },
    async readAll() {
      while (await pull()) { /* keep reading */ }
      const all = pending;
      pending = new Uint8Array(0);
      return all;
    },
    get readable() {
      return new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          if (pending.byteLength === 0 && !await pull()) {
            controller.close();
            return;
          }
          controller.enqueue(pending);
          pending = new Uint8Array(0);
        },
        cancel: async () => {
          await reader?.cancel();
        },
      });
    },
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (err) {
    // Without --allow-env a variable is as good as unset.
    if (err instanceof Deno.errors.NotCapable) return undefined;
    throw err;
  }
}

/** The home directory of the CLI's state: `HOOP_HOME`, else `~/.hoop`. */
export function hoopHome(env: (name: string) => string | undefined): string {
  const explicit = env("HOOP_HOME");
  if (explicit) return explicit;
  const home = env("HOME") ?? env("USERPROFILE") ?? ".";
  return join(home, ".hoop");
}

/** Read a secret from the terminal in raw mode, echoing nothing. */
async function promptSecretOnTerminal(prompt: string): Promise<string> {
  await Deno.stderr.write(encoder.encode(prompt));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buf = new Uint8Array(64);
  try {
    reading: while (true) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      for (const b of buf.subarray(0, n)) {
        if (b === 0x0d || b === 0x0a) break reading;
        if (b === 0x03) {
          // Ctrl-C in raw mode does not raise SIGINT; treat it as a cancel.
          throw new Error("Cannot read the password: cancelled");
        }
        if (b === 0x04 && bytes.length === 0) break reading;
        if (b === 0x7f || b === 0x08) {
          bytes.pop();
          continue;
        }
        bytes.push(b);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
  return decoder.decode(new Uint8Array(bytes));
}

/** The context of the real process: its stdio, environment and home. */
export function processContext(): Context {
  return {
    stdout: writerOutput(Deno.stdout),
    stderr: writerOutput(Deno.stderr),
    stdin: streamInput(() => Deno.stdin.readable),
    env: readEnv,
    isTerminal: Deno.stdin.isTerminal(),
    home: hoopHome(readEnv),
    promptSecret: promptSecretOnTerminal,
  };
}

/** Options of {@linkcode captureContext}. */
export interface CaptureOptions {
  /** Environment variables; nothing else is visible. */
  env?: Record<string, string>;
  /** What standard input holds. */
  stdin?: string | Uint8Array;
  /** Pretend stdin is a terminal. */
  isTerminal?: boolean;
  /** The state directory; defaults to `env.HOOP_HOME`, else a path that must not be used. */
  home?: string;
  /** Answers given, in order, to {@linkcode Context.promptSecret}. */
  secrets?: string[];
}

/** A context with captured output, for tests. */
export interface CapturedContext {
  ctx: Context;
  /** Everything written to stdout so far, as text. */
  stdout(): string;
  /** Everything written to stderr so far, as text. */
  stderr(): string;
  /** The prompts shown by promptSecret. */
  prompts: string[];
}

/** Build a context whose output is captured in memory and whose input is fixed. */
export function captureContext(options: CaptureOptions = {}): CapturedContext {
  const env = options.env ?? {};
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  function capture(chunks: Uint8Array[]): Output {
    const write = (data: Uint8Array | string) => {
      chunks.push(toBytes(data).slice());
      return Promise.resolve();
    };
    return { write, writeln: (text = "") => write(text + "\n"), isTerminal: false };
  }
  const input = toBytes(options.stdin ?? "");
  const secrets = [...options.secrets ?? []];
  const prompts: string[] = [];
  const ctx: Context = {
    stdout: capture(out),
    stderr: capture(err),
    stdin: streamInput(() =>
      new ReadableStream({
        start(c) {
          if (input.byteLength > 0) c.enqueue(input);
          c.close();
        },
      })
    ),
    env: (name) => env[name],
    isTerminal: options.isTerminal ?? false,
    home: options.home ?? env.HOOP_HOME ?? "/nonexistent/hoop-test-home",
    promptSecret(prompt) {
      prompts.push(prompt);
      const answer = secrets.shift();
      if (answer === undefined) return Promise.reject(new Error("no secret left to answer"));
      return Promise.resolve(answer);
    },
  };
  return {
    ctx,
    stdout: () => decoder.decode(concat(out)),
    stderr: () => decoder.decode(concat(err)),
    prompts,
  };
}

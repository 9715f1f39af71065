/**
 * Processes and clean-up for the benchmark: every child the bench starts is
 * registered here so that a failure, SIGINT or SIGTERM stops all of them, and
 * every tool run has a deadline.
 *
 * @module
 */

const decoder = new TextDecoder();

/** Children currently running (tools and long-lived helpers); killed on abort. */
const running = new Set<Deno.ChildProcess>();

/** Clean-up steps, run last-in first-out by {@linkcode runCleanup}. */
const cleanups: { name: string; fn: () => Promise<unknown> | unknown }[] = [];

/** Register a clean-up step; returns a function that runs it once and unregisters it. */
export function defer(name: string, fn: () => Promise<unknown> | unknown): () => Promise<void> {
  const entry = { name, fn };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await entry.fn();
  };
}

/** How long one clean-up step may take before the next one runs anyway. */
const CLEANUP_STEP_TIMEOUT_MS = 15_000;

/** Run every registered clean-up step (newest first), then kill stray children. */
export async function runCleanup(): Promise<void> {
  while (cleanups.length > 0) {
    const { name, fn } = cleanups.pop()!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(fn),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("timed out")), CLEANUP_STEP_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      console.error(`bench: cannot clean up ${name}: ${err instanceof Error ? err.message : err}`);
    } finally {
      clearTimeout(timer);
    }
  }
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  running.clear();
}

/** Result of a finished tool run. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the process, spawn to exit. */
  ms: number;
  timedOut: boolean;
}

/** Options of {@linkcode runTool}. */
export interface RunToolOptions {
  env?: Record<string, string>;
  /** SIGKILL after this long (default 120 s). */
  timeoutMs?: number;
  /** Send stdout to /dev/null instead of capturing it (bulk transfers). */
  discardStdout?: boolean;
  stdin?: string;
}

/** Run a program to completion with a deadline; never throws for a non-zero exit. */
export async function runTool(
  cmd: string,
  args: string[],
  opts: RunToolOptions = {},
): Promise<ToolResult> {
  const started = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    env: opts.env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: opts.discardStdout ? "null" : "piped",
    stderr: "piped",
  }).spawn();
  running.add(child);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone.
    }
  }, opts.timeoutMs ?? 120_000);
  try {
    if (opts.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(opts.stdin));
      await w.close();
    }
    const out = await child.output();
    return {
      code: out.code,
      stdout: opts.discardStdout ? "" : decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      ms: performance.now() - started,
      timedOut,
    };
  } finally {
    clearTimeout(timer);
    running.delete(child);
  }
}

/** Like {@linkcode runTool}, but throws unless the exit code is 0. */
export async function mustRunTool(
  what: string,
  cmd: string,
  args: string[],
  opts: RunToolOptions = {},
): Promise<ToolResult> {
  const r = await runTool(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `Cannot ${what}: ${cmd} exited with ${r.code}${r.timedOut ? " (timed out)" : ""}\n` +
        `${r.stderr}${r.stdout}`.trim(),
    );
  }
  return r;
}

/** A long-running helper process (sshd, ssh -L) with its stderr kept, bounded. */
export interface ServiceProcess {
  readonly pid: number;
  /** Its stderr so far (the last {@linkcode MAX_SERVICE_LOG_CHARS}). */
  log(): string;
  readonly status: Promise<Deno.CommandStatus>;
  /** SIGTERM, SIGKILL after 5 s; resolves when it has exited. */
  stop(): Promise<void>;
}

/** A service's stderr is kept up to this size; older text is dropped. */
const MAX_SERVICE_LOG_CHARS = 256 * 1024;

/** Start a long-running program; it is stopped by {@linkcode runCleanup} too. */
export function spawnService(name: string, cmd: string, args: string[]): ServiceProcess {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  running.add(child);
  let text = "";
  void (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of child.stderr) {
        text += dec.decode(chunk, { stream: true });
        if (text.length > MAX_SERVICE_LOG_CHARS) text = text.slice(-MAX_SERVICE_LOG_CHARS / 2);
      }
    } catch {
      // The pipe closes with the process.
    }
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    running.delete(child);
    return s;
  });
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Gone.
      }
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Gone.
      }
    }, 5_000);
    await status;
    clearTimeout(timer);
  };
  defer(name, stop);
  return { pid: child.pid, log: () => text, status, stop };
}

/** Wait without polling anything: only for measurement windows, never to wait for a state. */
export function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Read a file under /proc. Deno asks for --allow-all to read /proc/<pid> and
 * /proc/self, and the bench task's permissions stay the test set, so `cat` reads it.
 */
export async function readProcFile(path: string): Promise<string> {
  const r = await runTool("cat", [path], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`Cannot read "${path}": ${r.stderr.trim()}`);
  return r.stdout;
}

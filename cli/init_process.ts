/**
 * `hoop run -- APP` as the supervisor of its one application, good enough to
 * be a container's PID 1 (where the kernel gives hoop no default signal
 * actions and hands it every orphan):
 *
 * - SIGTERM, SIGINT, SIGHUP and SIGQUIT are forwarded to the application
 *   (and to its process group when it leads one: Deno cannot make the child
 *   a group leader before exec, so an application that wants its children
 *   signalled too starts its own group, as shells with job control do);
 * - after SIGTERM the application has `stopTimeoutMs` (default
 *   {@linkcode DEFAULT_STOP_TIMEOUT_MS}) to exit, and a second SIGTERM ends
 *   the wait: then SIGKILL;
 * - as PID 1, orphaned processes re-parented to hoop are reaped (libc
 *   `waitpid` through FFI, on SIGCHLD and every {@linkcode REAP_SWEEP_MS}),
 *   never a child hoop spawned itself (proto/child_registry.ts);
 * - the exit code is the application's, or 128 + the signal that ended it.
 *
 * Why look first (`waitid(WNOWAIT)`) and then reap one pid: a plain
 * `waitpid(-1)` on SIGCHLD took the exit status of 3 in 200 of Deno's own
 * children (their `status` then said the wrong thing); peeking and skipping
 * tracked children kept all 300 of 300 right while reaping 300 orphans, and
 * a spawn that skipped `trackChild` lost its status. So every spawn on the
 * `hoop run` path goes through `trackChild`. `PR_SET_CHILD_SUBREAPER` is not
 * needed: as PID 1 the kernel already re-parents orphans here, and outside
 * a container the real init reaps them.
 *
 * @module
 */
import { isTrackedChild, trackChild } from "../proto/child_registry.ts";
import { openLibc } from "../proto/libc.ts";

/** How long the application may take to exit after SIGTERM before SIGKILL. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/** Signals passed on to the application. */
export const FORWARDED_SIGNALS: readonly Deno.Signal[] = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"];

/** As PID 1, how often orphans are looked for besides on SIGCHLD. */
export const REAP_SWEEP_MS = 1_000;

const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/** The shell's exit code for a process ended by `sig`. */
export function signalExitCode(sig: Deno.Signal): number {
  return 128 + (SIGNAL_NUMBERS[sig] ?? 1);
}

/** Options of {@linkcode superviseApplication}. */
export interface SuperviseOptions {
  stopTimeoutMs?: number;
  /** One line to stderr (hoop's own messages; never stdout, which is the application's). */
  warn(line: string): void;
}

/** What {@linkcode startApplication} gives back. */
export interface Supervised {
  pid: number;
  /** The exit code to return: the application's, or 128 + signal. */
  exitCode: Promise<number>;
}

/**
 * Spawn `argv` with hoop's stdio and supervise it as described above. Throws
 * `Deno.errors.NotFound` (or another spawn error) when it cannot start.
 */
export function startApplication(argv: string[], opts: SuperviseOptions): Supervised {
  const child = trackChild(
    new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn(),
  );
  const stopTimeoutMs = opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  let exited = false;
  let terms = 0;
  let killTimer: ReturnType<typeof setTimeout> | undefined;

  const send = (sig: Deno.Signal) => {
    if (exited) return;
    try {
      if (leadsGroup(child.pid)) Deno.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      // Exited meanwhile.
    }
  };
  const kill = (why: string) => {
    if (exited) return;
    opts.warn(`hoop: ${why}: sending SIGKILL to the application`);
    send("SIGKILL");
  };
  const handlers = FORWARDED_SIGNALS.map((sig) => {
    const h = () => {
      if (sig === "SIGTERM") {
        terms++;
        if (terms > 1) return kill("second SIGTERM");
        killTimer ??= setTimeout(
          () => kill(`the application did not exit within ${stopTimeoutMs / 1000} s of SIGTERM`),
          stopTimeoutMs,
        );
      }
      send(sig);
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  const reaper = reapOrphansAsInit(opts.warn);

  const exitCode = child.status.then((status) => {
    exited = true;
    clearTimeout(killTimer);
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
    reaper?.stop();
    return status.signal ? signalExitCode(status.signal) : status.code;
  });
  return { pid: child.pid, exitCode };
}

/** True when `pid` is the leader of its own process group. */
function leadsGroup(pid: number): boolean {
  const libc = loadLibc();
  return libc !== undefined && libc.getpgid(pid) === pid;
}

const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
const P_ALL = 0;
/** `sizeof(siginfo_t)` on Linux; `si_pid` sits at byte 16 on 64-bit targets. */
const SIGINFO_BYTES = 128;
const SI_PID_OFFSET = 16;

const SYMBOLS = {
  waitpid: { parameters: ["i32", "pointer", "i32"], result: "i32" },
  waitid: { parameters: ["i32", "i32", "buffer", "i32"], result: "i32" },
  getpgid: { parameters: ["i32"], result: "i32" },
} as const;

let libcCache: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | null | undefined;

/**
 * libc through FFI (Deno has no waitpid for processes it did not spawn, and
 * refuses `/proc` without --allow-all). `undefined` off Linux or without --allow-ffi.
 */
function loadLibc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined {
  // waitid's siginfo layout below is Linux's.
  if (libcCache === undefined) {
    libcCache = Deno.build.os === "linux" ? openLibc(SYMBOLS) ?? null : null;
  }
  return libcCache ?? undefined;
}

/**
 * When this process is PID 1, reap exited children that it did not spawn:
 * orphans the kernel re-parented to it. `undefined` when not PID 1.
 */
export function reapOrphansAsInit(warn: (line: string) => void): { stop(): void } | undefined {
  if (Deno.pid !== 1) return undefined;
  const libc = loadLibc();
  if (!libc) {
    warn("hoop: running as PID 1 without --allow-ffi: orphaned processes are not reaped");
    return undefined;
  }
  const info = new Uint8Array(SIGINFO_BYTES);
  const view = new DataView(info.buffer);
  const sweep = () => {
    for (;;) {
      // Look without reaping: a child Deno spawned is Deno's to wait for.
      info.fill(0);
      if (libc.waitid(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT) !== 0) return;
      const pid = view.getInt32(SI_PID_OFFSET, true);
      if (pid === 0 || isTrackedChild(pid)) return;
      libc.waitpid(pid, null, WNOHANG);
    }
  };
  const timer = setInterval(sweep, REAP_SWEEP_MS);
  Deno.addSignalListener("SIGCHLD", sweep);
  return {
    stop() {
      clearInterval(timer);
      Deno.removeSignalListener("SIGCHLD", sweep);
      sweep();
    },
  };
}

/**
 * Running a `command` connection without a terminal (`hoop exec`): the program gets pipes, so its
 * stdout and stderr stay separate and its stdin ends when the client's input ends.
 *
 * The command text of a connection (`--command 'rails console'`) is split into argv by
 * `splitCommandLine` (proto/command_line.ts); there is no shell in between, so `|`, `;`, `$VAR` and `*` are plain
 * characters. A connection that needs a shell says so: `--command "sh -c 'make | tee log'"`.
 *
 * Each program runs in a process group of its own, as a shell gives each job, and `kill` signals
 * that group: a command that started others (`sh -c 'tr ... < /dev/zero'`) would otherwise leave
 * them running, holding its pipes open, after the command itself was stopped.
 *
 * @module
 */

import { trackChild } from "../proto/child_registry.ts";
import { invalidArgument, notFound, permissionDenied } from "../proto/errors.ts";
import { openLibc } from "../proto/libc.ts";

/** The signals hoop sends to commands, by number (the same on Linux and macOS). */
const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGTERM: 15,
};

let libcKill: ((pid: number, sig: number) => number) | null | undefined;

/**
 * Signal the process group `pgid` through libc (`Deno.kill` signals one
 * process). False when it cannot be done here (no `--allow-ffi`, another
 * platform, a signal not in the table) or the group is gone.
 */
function killGroup(pgid: number, signal: Deno.Signal): boolean {
  if (libcKill === undefined) {
    libcKill = openLibc({ kill: { parameters: ["i32", "i32"], result: "i32" } })?.kill ?? null;
  }
  const sig = SIGNAL_NUMBERS[signal];
  if (!libcKill || sig === undefined || pgid <= 1) return false;
  return libcKill(-pgid, sig) === 0;
}

/** Options of {@linkcode runCommand}. */
export interface RunCommandOptions {
  /** Extra environment variables, merged over the agent's own. */
  env?: Record<string, string>;
  /** Working directory of the program. */
  cwd?: string;
}

/** A program started by {@linkcode runCommand}. */
export interface CommandProcess {
  /** Process id of the program. */
  readonly pid: number;
  /** The program's standard input; close it to send end of file. */
  readonly stdin: WritableStream<Uint8Array>;
  /**
   * The program's standard output. Read it and {@linkcode CommandProcess.stderr} concurrently:
   * a program blocks once either pipe is full (64 KiB on Linux) and nobody reads it.
   */
  readonly stdout: ReadableStream<Uint8Array>;
  /** The program's standard error. */
  readonly stderr: ReadableStream<Uint8Array>;
  /**
   * Send a signal (default SIGTERM) to the program and every process it
   * started in its group, even after the program itself exited while they
   * run on; a no-op once all are gone.
   */
  kill(signal?: Deno.Signal): void;
  /** Exit status; `code` is 128 + n when the program died of signal n, as in a shell. */
  readonly status: Promise<{ code: number; signal: string | null }>;
}

/**
 * Start `argv` with piped stdin, stdout and stderr: a thin wrapper over `Deno.Command`.
 *
 * @throws {HoopError} `invalid_argument` for an empty argv, `not_found` when the program does
 * not exist, `permission_denied` when it may not be executed.
 */
export function runCommand(argv: string[], opts: RunCommandOptions = {}): CommandProcess {
  if (argv.length === 0 || argv[0] === "") {
    throw invalidArgument("Cannot run command: the command line is empty");
  }
  let child: Deno.ChildProcess;
  try {
    child = trackChild(
      new Deno.Command(argv[0], {
        args: argv.slice(1),
        env: opts.env,
        cwd: opts.cwd,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        // setsid(): a session and process group of its own, whose id is its pid.
        detached: true,
      }).spawn(),
    );
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw notFound(`Cannot run "${argv[0]}": no such program or directory on the agent`, {
        cause: err,
      });
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw permissionDenied(`Cannot run "${argv[0]}": the agent may not execute it`, {
        cause: err,
      });
    }
    throw err;
  }
  let exited = false;
  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    kill(signal: Deno.Signal = "SIGTERM") {
      // The group outlives its leader while a member runs, and Linux hands out
      // no pid still in use as a group id, so this reaches only our processes
      // as long as the caller stops killing once the pipes have ended.
      if (killGroup(child.pid, signal)) return;
      if (exited) return;
      try {
        child.kill(signal);
      } catch (err) {
        // Exited between the check and the call.
        if (!(err instanceof TypeError)) throw err;
      }
    },
    // Deno already reports 128 + n for a death by signal n.
    status: child.status.then((s) => {
      exited = true;
      return { code: s.code, signal: s.signal };
    }),
  };
}

// The command text is not quoted back: a connection's command may carry a password.

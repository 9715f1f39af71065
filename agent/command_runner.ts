/**
 * Running a `command` connection without a terminal (`hoop exec`): the program gets pipes, so its
 * stdout and stderr stay separate and its stdin ends when the client's input ends.
 *
 * The command text of a connection (`--command 'rails console'`) is split into argv by
 * {@linkcode splitCommandLine}; there is no shell in between, so `|`, `;`, `$VAR` and `*` are plain
 * characters. A connection that needs a shell says so: `--command "sh -c 'make | tee log'"`.
 *
 * @module
 */

import { invalidArgument, notFound, permissionDenied } from "../proto/errors.ts";

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
  /** Send a signal (default SIGTERM); a no-op once the program has exited. */
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
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      env: opts.env,
      cwd: opts.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
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

/**
 * Split a command line into argv the way a POSIX shell splits words, without expansions:
 * blanks separate words; `'...'` is literal; inside `"..."` a backslash escapes only `"`, `\`,
 * `$`, `` ` `` and a newline; elsewhere a backslash escapes any character; backslash-newline joins
 * lines. `''` and `""` give an empty word.
 *
 * @throws {HoopError} `invalid_argument` on an unterminated quote or a trailing backslash.
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = "";
  // A word exists once any character or quote of it was seen, so `''` yields "".
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw unterminated("single quote", i);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      const start = i;
      i++;
      for (;;) {
        if (i >= text.length) throw unterminated("double quote", start);
        const d = text[i];
        if (d === '"') break;
        if (d === "\\" && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1])) {
          if (text[i + 1] !== "\n") word += text[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      inWord = true;
      i++;
    } else if (c === "\\") {
      if (i + 1 >= text.length) {
        throw invalidArgument(
          `Cannot split command line: the backslash at offset ${i} escapes nothing`,
          { hint: "remove it, or write \\\\ for a literal backslash" },
        );
      }
      if (text[i + 1] !== "\n") {
        word += text[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

// The command text is not quoted back: a connection's command may carry a password.
function unterminated(kind: string, offset: number) {
  return invalidArgument(
    `Cannot split command line: the ${kind} at offset ${offset} is never closed`,
    { hint: "close the quote, or escape the character with a backslash" },
  );
}

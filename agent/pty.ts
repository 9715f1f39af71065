/**
 * Pseudo-terminals for the agent's `command` connections, with no dependency: libc through
 * `Deno.dlopen` (needs `--allow-ffi` and `--allow-run`).
 *
 * How the child gets the terminal. Deno cannot hand file descriptors to a child, so the parent
 * opens the pair with `openpty`, and the child opens the slave again *by path* (`/dev/pts/N`):
 *
 *     sh -c 'exec setsid -cw "$@" <TTY >TTY 2>&1' ...
 *
 * `setsid -c` (util-linux) starts a new session and makes the terminal on stdin its controlling
 * terminal, so Ctrl-C written to the master (0x03) reaches the foreground process group as SIGINT,
 * TIOCSWINSZ on the master sends SIGWINCH, and closing the master hangs the session up. Both `exec`s
 * keep the pid, so {@linkcode PtyProcess.pid} and `kill` address the program itself.
 *
 * I/O never blocks the event loop: the master is O_NONBLOCK, reads and writes are synchronous FFI
 * calls that return at once, and waiting is a `poll` marked `nonblocking: true` (it runs on a
 * worker thread). Every `poll` also watches a wake pipe, which {@linkcode PtyProcess.close} makes
 * readable, so no worker thread outlives `close`.
 *
 * End of output. The parent holds its own slave fd until the child exits, so the master never sees
 * a hang-up while the child is still opening the terminal; then it drops it, and the kernel reports
 * EIO/POLLHUP on the master only after every byte the child wrote has been read.
 *
 * @module
 */

import { trackChild } from "../proto/child_registry.ts";
import { openLibc } from "../proto/libc.ts";

/** A program running behind a pseudo-terminal. */
export interface PtyProcess {
  /** Process id of the program (it is also its session and process group leader). */
  readonly pid: number;
  /** Read output into `buf`; resolves with the byte count, or `null` at end of output. */
  read(buf: Uint8Array): Promise<number | null>;
  /** Write all of `data` as terminal input (keystrokes); waits while the terminal is full. */
  write(data: Uint8Array): Promise<void>;
  /** Set the window size (TIOCSWINSZ); the kernel sends SIGWINCH to the foreground group. */
  resize(cols: number, rows: number): void;
  /** Send a signal to the program (default SIGTERM); a no-op once it has exited. */
  kill(signal?: Deno.Signal): void;
  /** Exit status; `code` is 128 + n when the program died of signal n, as in a shell. */
  readonly status: Promise<{ code: number; signal: string | null }>;
  /** Release the file descriptors; pending reads resolve `null`. Idempotent. */
  close(): void;
}

/** Options of {@linkcode spawnPty}. */
export interface SpawnPtyOptions {
  /** Initial width in columns. */
  cols: number;
  /** Initial height in rows. */
  rows: number;
  /** Extra environment variables (merged over the agent's own; `TERM` defaults to xterm-256color). */
  env?: Record<string, string>;
  /** Working directory of the program. */
  cwd?: string;
}

// Numbers that differ between platforms. Linux is what CI runs; the macOS values are here so the
// port is a matter of providing `setsid`, but they are untested.
const IS_DARWIN = Deno.build.os === "darwin";
const TIOCSWINSZ = IS_DARWIN ? 0x80087467n : 0x5414n;
const O_NONBLOCK = IS_DARWIN ? 0x4 : 0x800;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const FD_CLOEXEC = 1;
const POLLIN = 0x1;
const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;
/** Room for the slave's path from `openpty` (glibc copies it without a bound; paths are short). */
const TTY_NAME_BYTES = 4096;

const SYMBOLS = {
  openpty: { parameters: ["buffer", "buffer", "buffer", "pointer", "buffer"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  pipe: { parameters: ["buffer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const libc: Libc | undefined = openLibc(SYMBOLS);

/**
 * False where libc cannot be loaded (no `--allow-ffi`, Windows, a libc without `openpty`);
 * callers then report a clear error instead of calling {@linkcode spawnPty}.
 */
export const PTY_SUPPORTED: boolean = libc !== undefined;

/**
 * Start `argv` behind a new pseudo-terminal of `cols` x `rows`.
 *
 * @throws {Error} when pseudo-terminals are unsupported here or the terminal cannot be opened.
 */
export function spawnPty(argv: string[], opts: SpawnPtyOptions): PtyProcess {
  if (!libc) {
    throw new Error(
      `Cannot start "${argv[0]}" in a pseudo-terminal: not supported on ${Deno.build.os} ` +
        "or without --allow-ffi",
    );
  }
  if (argv.length === 0) throw new TypeError("Cannot start a pseudo-terminal: no command given");
  const fds = new Int32Array(2);
  const name = new Uint8Array(TTY_NAME_BYTES);
  const master = new Int32Array(1);
  const slave = new Int32Array(1);
  if (libc.openpty(master, slave, name, null, winsize(opts.cols, opts.rows)) !== 0) {
    throw new Error(`Cannot start "${argv[0]}" in a pseudo-terminal: openpty failed`);
  }
  if (libc.pipe(fds) !== 0) {
    libc.close(master[0]);
    libc.close(slave[0]);
    throw new Error(`Cannot start "${argv[0]}" in a pseudo-terminal: pipe failed`);
  }
  // Close-on-exec on all four, or every later child (of any session) would keep them open and
  // hold this terminal alive.
  for (const fd of [master[0], slave[0], fds[0], fds[1]]) libc.fcntl(fd, F_SETFD, FD_CLOEXEC);
  libc.fcntl(master[0], F_SETFL, libc.fcntl(master[0], F_GETFL, 0) | O_NONBLOCK);
  libc.fcntl(fds[1], F_SETFL, libc.fcntl(fds[1], F_GETFL, 0) | O_NONBLOCK);
  const ttyPath = new TextDecoder().decode(name.subarray(0, name.indexOf(0)));

  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("sh", {
      args: [
        "-c",
        'tty=$1; shift; exec setsid -cw "$@" <"$tty" >"$tty" 2>&1',
        "sh",
        ttyPath,
        ...argv,
      ],
      env: { TERM: "xterm-256color", ...opts.env },
      cwd: opts.cwd,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    // A hoop run that is PID 1 reaps orphans, never its own children.
    trackChild(child);
  } catch (err) {
    for (const fd of [master[0], slave[0], fds[0], fds[1]]) libc.close(fd);
    throw new Error(`Cannot start "${argv[0]}" in a pseudo-terminal: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  return new Pty(libc, child, master[0], slave[0], fds[0], fds[1]);
}

function winsize(cols: number, rows: number): Uint8Array {
  // struct winsize { unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel; }
  const clamp = (n: number) => Math.max(1, Math.min(0xffff, Math.trunc(n) || 1));
  return new Uint8Array(new Uint16Array([clamp(rows), clamp(cols), 0, 0]).buffer);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

class Pty implements PtyProcess {
  readonly pid: number;
  readonly status: Promise<{ code: number; signal: string | null }>;
  #libc: Libc;
  #child: Deno.ChildProcess;
  #master: number;
  #slave: number;
  #wakeRead: number;
  #wakeWrite: number;
  #closed = false;
  #exited = false;
  /** Polls in flight; fds are closed only after they return, never under a worker thread. */
  #polls = new Set<Promise<unknown>>();

  constructor(
    libc: Libc,
    child: Deno.ChildProcess,
    master: number,
    slave: number,
    wakeRead: number,
    wakeWrite: number,
  ) {
    this.#libc = libc;
    this.#child = child;
    this.pid = child.pid;
    this.#master = master;
    this.#slave = slave;
    this.#wakeRead = wakeRead;
    this.#wakeWrite = wakeWrite;
    this.status = child.status.then((s) => {
      this.#exited = true;
      // Our slave fd was only a placeholder until the child opened the terminal; dropping it lets
      // the master report end of output once the child's last bytes are read.
      this.#closeSlave();
      // Deno already reports 128 + n for a death by signal n, as a shell does.
      return { code: s.code, signal: s.signal };
    });
  }

  async read(buf: Uint8Array): Promise<number | null> {
    if (buf.length === 0) return 0;
    for (;;) {
      if (this.#closed) return null;
      const n = this.#readNow(buf);
      if (n > 0) return n;
      if (n === 0) return null; // read() == 0: end of file (macOS after hang-up)
      const revents = await this.#poll(POLLIN);
      if (this.#closed) return null;
      if (revents & (POLLHUP | POLLERR | POLLNVAL)) {
        // Hang-up: whatever is still buffered comes first, then end of output.
        const last = this.#readNow(buf);
        return last > 0 ? last : null;
      }
    }
  }

  /** Fill `buf` from the master without blocking: bytes read, 0 at EOF, -1 when none are ready. */
  #readNow(buf: Uint8Array): number {
    let total = 0;
    // The line discipline hands out at most ~4 KiB per read(2); keep going while more is ready.
    while (total < buf.length) {
      const n = Number(
        this.#libc.read(this.#master, buf.subarray(total), BigInt(buf.length - total)),
      );
      if (n <= 0) return total > 0 ? total : n < 0 ? -1 : 0;
      total += n;
    }
    return total;
  }

  async write(data: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      if (this.#closed) {
        throw new Error(`Cannot write to pseudo-terminal of pid ${this.pid}: closed`);
      }
      const rest = data.subarray(offset);
      const n = Number(this.#libc.write(this.#master, rest, BigInt(rest.length)));
      if (n > 0) {
        offset += n;
        continue;
      }
      const revents = await this.#poll(POLLOUT);
      if (!(revents & POLLOUT) && revents & (POLLHUP | POLLERR | POLLNVAL)) {
        throw new Error(`Cannot write to pseudo-terminal of pid ${this.pid}: hung up`);
      }
    }
  }

  resize(cols: number, rows: number): void {
    if (this.#closed) return;
    this.#libc.ioctl(this.#master, TIOCSWINSZ, winsize(cols, rows));
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exited) return;
    try {
      this.#child.kill(signal);
    } catch (err) {
      // Exited between the check and the call.
      if (!(err instanceof TypeError)) throw err;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The wake pipe is never drained: once written it keeps every current and future poll awake.
    this.#libc.write(this.#wakeWrite, new Uint8Array(1), 1n);
    // Closing the master hangs up the terminal: the kernel sends SIGHUP to the session.
    Promise.allSettled([...this.#polls]).then(() => {
      this.#closeSlave();
      for (const fd of [this.#master, this.#wakeRead, this.#wakeWrite]) this.#libc.close(fd);
    });
  }

  #closeSlave(): void {
    if (this.#slave < 0) return;
    this.#libc.close(this.#slave);
    this.#slave = -1;
  }

  /** Wait until the master is ready for `events`, hangs up, or `close` is called; returns revents. */
  async #poll(events: number): Promise<number> {
    // struct pollfd { int fd; short events; short revents; } x 2: the master and the wake pipe.
    const fds = new Int32Array(4);
    const view = new Int16Array(fds.buffer);
    fds[0] = this.#master;
    view[2] = events;
    fds[2] = this.#wakeRead;
    view[6] = POLLIN;
    const pending = this.#libc.poll(fds, 2n, -1);
    this.#polls.add(pending);
    try {
      await pending; // -1 (EINTR) simply means "look again"
    } finally {
      this.#polls.delete(pending);
    }
    return view[3];
  }
}

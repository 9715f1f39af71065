/**
 * The client side of a console (`hoop connect` to a `command` connection): the local terminal in
 * raw mode, its size, and its resizes, which the CLI forwards to the agent's pseudo-terminal.
 *
 * @module
 */

/** A terminal size in character cells. */
export interface TerminalSize {
  /** Width in columns. */
  cols: number;
  /** Height in rows. */
  rows: number;
}

/** Used when no terminal is attached, the size every terminal emulator starts with. */
const FALLBACK_SIZE: TerminalSize = { cols: 80, rows: 24 };

/**
 * Put stdin in raw mode, so that keystrokes, Ctrl-C included, go to the remote program unchanged.
 * Returns the restore function: safe to call more than once, and also run on `unload` so that a
 * `Deno.exit` does not leave the user's shell raw. Without a terminal on stdin it does nothing.
 */
export function enterRawMode(): () => void {
  if (!Deno.stdin.isTerminal()) return () => {};
  Deno.stdin.setRaw(true, { cbreak: false });
  let restored = false;
  function restore(): void {
    if (restored) return;
    restored = true;
    globalThis.removeEventListener("unload", restore);
    try {
      Deno.stdin.setRaw(false);
    } catch (err) {
      // stdin is gone (terminal closed): there is nothing left to restore.
      if (!(err instanceof Deno.errors.BadResource)) throw err;
    }
  }
  globalThis.addEventListener("unload", restore);
  return restore;
}

/** The size of the terminal on stdout/stderr/stdin, or 80x24 when there is none. */
export function terminalSize(): TerminalSize {
  try {
    const { columns, rows } = Deno.consoleSize();
    return columns > 0 && rows > 0 ? { cols: columns, rows } : { ...FALLBACK_SIZE };
  } catch {
    // Deno throws a plain Error when none of stdin, stdout and stderr is a terminal.
    return { ...FALLBACK_SIZE };
  }
}

/**
 * Call `cb` with the new size whenever the terminal is resized (SIGWINCH). Returns the
 * unsubscribe function, which is idempotent; a live listener keeps the process running. Where
 * SIGWINCH does not exist (Windows) it never fires.
 */
export function onResize(cb: (size: TerminalSize) => void): () => void {
  if (Deno.build.os === "windows") return () => {};
  const handler = () => cb(terminalSize());
  Deno.addSignalListener("SIGWINCH", handler);
  let active = true;
  return () => {
    if (!active) return;
    active = false;
    Deno.removeSignalListener("SIGWINCH", handler);
  };
}

/**
 * Join two connections: the gateway's relay between a client's and an
 * agent's data connection, and the agent's between its data connection and
 * a resource.
 *
 * Each direction is a `read()`/`write()` loop over one buffer allocated once,
 * so memory per splice is two buffers whatever the traffic: a peer that stops
 * reading stalls the loop feeding it, and TCP back-pressure reaches the
 * sender. `readable.pipeTo` is avoided on purpose: Deno closes the whole
 * connection when its readable ends, which would drop a TCP half-close.
 *
 * Deno reports a connection reset on `read()` as end of stream, so a reset
 * travels on as a half-close; the next write towards the reset side fails
 * and that failure ends the splice.
 *
 * @module
 */
import { closeQuietly, setNoDelay } from "./bytes.ts";

/** Buffer of each direction of a splice. */
export const SPLICE_BUFFER_BYTES = 256 * 1024;

/** Sees the bytes of a splice as they pass. */
export interface SpliceObserver {
  /**
   * Called synchronously with a view of the bytes just read, before they are
   * written on. The view is reused for the next read: copy what you keep.
   * A throw ends the splice as an error in that direction.
   */
  onData?(direction: "a2b" | "b2a", chunk: Uint8Array): void;
  /** Called when the source of `direction` reached end of stream (a clean half-close). */
  onEnd?(direction: "a2b" | "b2a"): void;
}

/** Options of {@linkcode splice}. */
export interface SpliceOptions {
  observer?: SpliceObserver;
  /** Buffer of each direction; default {@linkcode SPLICE_BUFFER_BYTES}. */
  bufferBytes?: number;
  /** Aborting closes both connections and ends the splice. */
  signal?: AbortSignal;
}

/** Bytes carried each way, and what ended the splice. */
export interface SpliceResult {
  /** Bytes read from `a` and written to `b`. */
  a2b: number;
  /** Bytes read from `b` and written to `a`. */
  b2a: number;
  /**
   * The first failure (a reset, a broken pipe, an observer's throw), absent
   * when both directions reached end of stream or the signal aborted.
   */
  error?: unknown;
}

/** `a2b`: bytes read from `a`, written to `b`; `b2a` the other way. */
export type Direction = "a2b" | "b2a";

/**
 * Carry bytes both ways between `a` and `b` until both directions end, then
 * close both. End of stream from one side becomes `closeWrite()` on the
 * other, so a half-closed conversation finishes. A failure in either
 * direction closes both and ends the other. Never rejects: the outcome is in
 * {@linkcode SpliceResult}.
 */
export async function splice(
  a: Deno.Conn,
  b: Deno.Conn,
  opts: SpliceOptions = {},
): Promise<SpliceResult> {
  const result: SpliceResult = { a2b: 0, b2a: 0 };
  const size = opts.bufferBytes ?? SPLICE_BUFFER_BYTES;
  const observer = opts.observer;
  let closed = false;

  function closeBoth(): void {
    if (closed) return;
    closed = true;
    closeQuietly(a);
    closeQuietly(b);
  }

  async function pump(src: Deno.Conn, dst: Deno.Conn, dir: Direction): Promise<void> {
    const buf = new Uint8Array(size);
    try {
      while (true) {
        const n = await src.read(buf);
        if (n === null) {
          observer?.onEnd?.(dir);
          break;
        }
        const chunk = buf.subarray(0, n);
        observer?.onData?.(dir, chunk);
        let off = 0;
        while (off < n) off += await dst.write(chunk.subarray(off));
        result[dir] += n;
      }
    } catch (err) {
      // Errors after our own close are the echo of it, not the cause.
      if (!closed && result.error === undefined) result.error = err;
      closeBoth();
      return;
    }
    if (closed) return;
    try {
      await dst.closeWrite();
    } catch {
      // NotConnected and friends: the peer has gone, the other loop will see it.
    }
  }

  const signal = opts.signal;
  if (signal?.aborted) {
    closeBoth();
    return result;
  }
  setNoDelay(a);
  setNoDelay(b);
  const onAbort = () => closeBoth();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.all([pump(a, b, "a2b"), pump(b, a, "b2a")]);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    closeBoth();
  }
  return result;
}

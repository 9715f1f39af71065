/**
 * The one accept loop of hoop's listeners (the gateway's data port and
 * PostgreSQL listener, `hoop connect`'s local port). It owns the errors of
 * everything it starts: a handler that throws or rejects ends that
 * connection (closed, `onError` told), never the loop or the process.
 *
 * @module
 */
import { closeQuietly, setNoDelay } from "./bytes.ts";

/** Options of {@linkcode acceptLoop}. */
export interface AcceptLoopOptions {
  /** An accept that failed for a reason other than the listener closing (the loop goes on). */
  onAcceptError?(err: unknown): void | Promise<void>;
  /** A handler that threw or rejected; the connection has been closed. */
  onError?(err: unknown): void;
}

/** A listener being served by {@linkcode acceptLoop}. */
export interface AcceptLoop {
  /** Resolves once the listener has closed and no more connections are accepted. */
  readonly done: Promise<void>;
  /** Stop accepting (connections already handed out are theirs to end). */
  close(): void;
}

/**
 * Accept from `listener` until it closes, turning Nagle off on each
 * connection that can (every hop of the data path needs it) and handing it to
 * `handle`, which owns the connection from then on.
 */
export function acceptLoop<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  handle: (conn: C) => Promise<void>,
  opts: AcceptLoopOptions = {},
): AcceptLoop {
  let closed = false;
  const done = (async () => {
    for (;;) {
      let conn: C;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (
          closed || err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted
        ) {
          return;
        }
        try {
          await opts.onAcceptError?.(err);
        } catch {
          // A failing report must not stop the listener.
        }
        continue;
      }
      setNoDelay(conn);
      void (async () => {
        try {
          await handle(conn);
        } catch (err) {
          closeQuietly(conn);
          opts.onError?.(err);
        }
      })();
    }
  })();
  return {
    done,
    close() {
      closed = true;
      closeQuietly(listener);
    },
  };
}

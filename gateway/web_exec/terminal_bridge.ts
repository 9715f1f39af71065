/**
 * A browser terminal: one WebSocket bridged to an own console session's
 * frames. Binary messages are keystrokes (STDIN frames), a text message
 * `{"type":"resize","cols":N,"rows":M}` is a RESIZE frame; the agent's
 * STDOUT/STDERR go back as binary messages, and the end as a text message,
 * `{"type":"exit","code":N}` or `{"type":"error","message":"..."}`, before
 * the server closes the socket. Whatever the browser sends ends at most this
 * session, with the reason recorded.
 *
 * @module
 */
import type * as wire from "../../proto/api_types.ts";
import {
  FrameReader,
  FrameType,
  parseExit,
  resizePayload,
  writeFrame,
} from "../../proto/frames.ts";
import type { OwnSession } from "./own_session.ts";

/** Largest WebSocket message a browser terminal may send; a larger one ends the session. */
export const MAX_TERMINAL_MESSAGE_BYTES = 64 * 1024;

/** While the socket has more than this queued for the browser, the agent is not read. */
export const MAX_TERMINAL_BUFFERED_BYTES = 1024 * 1024;

/**
 * Keystrokes accepted but not yet written to the agent; past this the
 * session ends (a WebSocket cannot be paused, so a flood must be refused).
 */
export const MAX_TERMINAL_PENDING_INPUT_BYTES = 1024 * 1024;

/** How often a socket over {@linkcode MAX_TERMINAL_BUFFERED_BYTES} is looked at again. */
const DRAIN_POLL_MS = 10;

/** Terminal sizes from this up are refused. */
const MAX_TERMINAL_CELLS = 10_000;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A text message's size on the wire (UTF-8 bytes, not UTF-16 units). */
function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

/** A plausible terminal dimension, or `undefined`. */
export function terminalDimension(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v > 0 && v < MAX_TERMINAL_CELLS
    ? v
    : undefined;
}

function send(socket: WebSocket, message: wire.TerminalServerMessage): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

/** Send a last message and close the socket (normal closure). */
export function closeWith(socket: WebSocket, message: wire.TerminalServerMessage): void {
  send(socket, message);
  if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
    socket.close(1000);
  }
}

/** Resolve once the socket is open (at once if it is); `false` when it closed first. */
export function socketOpened(socket: WebSocket): Promise<boolean> {
  if (socket.readyState === WebSocket.OPEN) return Promise.resolve(true);
  if (socket.readyState !== WebSocket.CONNECTING) return Promise.resolve(false);
  return new Promise((resolve) => {
    socket.addEventListener("open", () => resolve(true), { once: true });
    socket.addEventListener("close", () => resolve(false), { once: true });
  });
}

/** What the browser sent while its session was still being opened, and whether it left. */
export interface EarlyMessages {
  /** Stop holding; the messages so far, in order. */
  take(): { data: unknown[]; closed: boolean };
}

/**
 * Hold the messages an open `socket` receives until {@linkcode bridgeTerminal}
 * takes them: a console sends its first keystrokes and resize as soon as the
 * socket opens, before the agent's side of the session is there. What is held
 * is bounded as the bridge's pending input is; past it the messages are
 * dropped and the bridge ends the session.
 */
export function holdEarlyMessages(socket: WebSocket): EarlyMessages {
  socket.binaryType = "arraybuffer";
  const data: unknown[] = [];
  let bytes = 0;
  let closed = false;
  const onMessage = (ev: MessageEvent) => {
    const size = messageSize(ev.data);
    bytes += size;
    // Over the limit: keep one oversized marker so the bridge names the flood.
    if (bytes <= MAX_TERMINAL_PENDING_INPUT_BYTES) data.push(ev.data);
    else if (data.at(-1) !== OVERFLOW) data.push(OVERFLOW);
  };
  const onClose = () => closed = true;
  socket.addEventListener("message", onMessage);
  socket.addEventListener("close", onClose);
  return {
    take() {
      socket.removeEventListener("message", onMessage);
      socket.removeEventListener("close", onClose);
      return { data, closed: closed || socket.readyState >= WebSocket.CLOSING };
    },
  };
}

/** Stands for the messages {@linkcode holdEarlyMessages} dropped past its bound. */
const OVERFLOW = Symbol("overflow");

function messageSize(data: unknown): number {
  return typeof data === "string" ? utf8Length(data) : (data as ArrayBuffer).byteLength;
}

/**
 * Bridge an open `socket` and `session` until either ends; resolves when both
 * directions are done. Never rejects. `early` holds what the browser sent
 * while the session was opened: it is handled first, in order. When
 * `stopping` aborts (the gateway shuts down), the browser is told at once,
 * before the API server closes its sockets.
 */
export async function bridgeTerminal(
  socket: WebSocket,
  session: OwnSession,
  opts: { early?: EarlyMessages; stopping?: AbortSignal } = {},
): Promise<void> {
  const conn = session.conn;
  socket.binaryType = "arraybuffer";
  send(socket, { type: "session", session_id: session.sessionId });

  let ended: string | undefined;
  const end = (reason: string) => {
    if (ended) return;
    ended = reason;
    session.end(reason);
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  };

  // Writes to the agent in order, through one chain; its length is bounded.
  let pending = 0;
  let writes = Promise.resolve();
  const write = (type: number, payload?: Uint8Array) => {
    const size = payload?.length ?? 0;
    if (pending + size > MAX_TERMINAL_PENDING_INPUT_BYTES) {
      end(
        `the browser sent over ${MAX_TERMINAL_PENDING_INPUT_BYTES} bytes the agent had not taken`,
      );
      return;
    }
    pending += size;
    writes = writes.then(() => writeFrame(conn, type, payload)).catch(() => {
      // The agent side is gone: the reader below sees it and ends the socket.
    }).finally(() => {
      pending -= size;
    });
  };

  const onMessage = (data: unknown) => {
    if (ended) return;
    if (data === OVERFLOW) {
      end(
        `the browser sent over ${MAX_TERMINAL_PENDING_INPUT_BYTES} bytes before the session opened`,
      );
      return;
    }
    const size = messageSize(data);
    if (size > MAX_TERMINAL_MESSAGE_BYTES) {
      end(
        `the browser sent a message of ${size} bytes, over the limit of ${MAX_TERMINAL_MESSAGE_BYTES}`,
      );
      return;
    }
    if (typeof data !== "string") {
      write(FrameType.STDIN, new Uint8Array(data as ArrayBuffer));
      return;
    }
    let msg: { type?: unknown; cols?: unknown; rows?: unknown };
    try {
      msg = JSON.parse(data);
    } catch {
      end("the browser sent a text message that is not JSON");
      return;
    }
    if (msg?.type === "resize") {
      const cols = terminalDimension(msg.cols);
      const rows = terminalDimension(msg.rows);
      if (cols && rows) write(FrameType.RESIZE, resizePayload(cols, rows));
    }
    // Other message types are for later versions of the console: ignored.
  };
  const held = opts.early?.take() ?? { data: [], closed: false };
  for (const data of held.data) onMessage(data);
  socket.addEventListener("message", (ev: MessageEvent) => onMessage(ev.data));
  socket.addEventListener("close", () => end("the browser closed the terminal"));
  // Gone while the session was opened: its close event has fired already.
  if (held.closed || socket.readyState >= WebSocket.CLOSING) {
    end("the browser closed the terminal");
  }
  const onStopping = () => {
    end("the gateway is shutting down");
    closeWith(socket, { type: "error", message: "the gateway is shutting down" });
  };
  if (opts.stopping?.aborted) onStopping();
  opts.stopping?.addEventListener("abort", onStopping, { once: true });

  let exitCode: number | undefined;
  let errorText: string | undefined;
  try {
    const reader = new FrameReader(conn);
    for (;;) {
      // Back-pressure: a slow browser holds the agent's output in the agent.
      while (socket.bufferedAmount > MAX_TERMINAL_BUFFERED_BYTES && !ended) {
        await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      }
      const f = await reader.next();
      if (!f) break;
      if (f.type === FrameType.STDOUT || f.type === FrameType.STDERR) {
        if (socket.readyState === WebSocket.OPEN) socket.send(f.payload);
      } else if (f.type === FrameType.ERROR) {
        errorText = decoder.decode(f.payload);
      } else if (f.type === FrameType.EXIT) {
        exitCode = parseExit(f.payload);
        break;
      }
    }
  } catch (err) {
    errorText ??= `the session broke: ${err instanceof Error ? err.message : String(err)}`;
  }
  opts.stopping?.removeEventListener("abort", onStopping);
  await writes;
  try {
    conn.close();
  } catch {
    // Closed already.
  }
  if (exitCode !== undefined) {
    // Over and recorded: the browser's close that follows is no reason to note.
    ended ??= "exited";
    closeWith(socket, { type: "exit", code: exitCode });
  } else {
    closeWith(socket, {
      type: "error",
      message: ended ?? errorText ?? "the session ended without an exit code: it was cut",
    });
  }
}

/**
 * Frames of exec and console sessions, carried over a data connection after
 * its header ({@link ./data_header.ts}). TCP-type sessions (postgres, tcp)
 * carry raw bytes instead.
 *
 * ```
 * type u8 | length u32 BE | payload (length bytes, at most 1 MiB)
 * ```
 *
 * Flow: the client sends STDIN chunks and RESIZE as they happen, and
 * STDIN_EOF when its input ends (the console's first size travels with the
 * session-open call, not as a frame). The agent sends STDOUT and STDERR
 * chunks, and finally EXIT (or ERROR when the command could not run), then
 * closes. Readers ignore types they do not know, so a new type needs a
 * DATA_PROTOCOL_VERSION bump only when it must not be ignored. Ctrl-C in a
 * console is the byte 0x03 on STDIN, which the agent's pseudo-terminal turns
 * into SIGINT.
 *
 * @module
 */
import { HoopError } from "./errors.ts";
import { type ByteReader, type ByteWriter, writeAll } from "./bytes.ts";
import { type RecordFault, TypeLengthReader } from "./type_length_reader.ts";

/**
 * Frame types. Direction and payload of each:
 *
 * - `STDIN` client→agent: bytes for the command's standard input.
 * - `STDOUT` agent→client: bytes the command wrote to standard output.
 * - `STDERR` agent→client: bytes the command wrote to standard error.
 * - `RESIZE` client→agent: u16 BE columns, u16 BE rows (consoles).
 * - `EXIT` agent→client: i32 BE exit code; the last frame of a session.
 * - `STDIN_EOF` client→agent: empty; standard input is closed.
 * - `ERROR` agent→client: UTF-8 message; the command could not run or failed.
 *
 * Types 5 (once SIGNAL) and 9 (once START) were never sent; they stay
 * reserved and readers ignore them.
 */
export const FrameType = {
  STDIN: 1,
  STDOUT: 2,
  STDERR: 3,
  RESIZE: 4,
  EXIT: 6,
  STDIN_EOF: 7,
  ERROR: 8,
} as const;

/** One of {@linkcode FrameType}. */
export type FrameType = typeof FrameType[keyof typeof FrameType];

/** Largest payload of one frame; a bigger length is a protocol error. */
export const MAX_FRAME_PAYLOAD_BYTES = 1024 * 1024;

/** Bytes before a frame's payload: type and length. */
export const FRAME_HEADER_BYTES = 5;

/** Size of {@linkcode FrameReader}'s one read buffer. */
export const FRAME_READ_BUFFER_BYTES = 64 * 1024;

/** One frame. `payload` is the frame's own copy. */
export interface Frame {
  type: number;
  payload: Uint8Array;
}

/** A malformed frame or a stream that ended inside one. */
export class FrameError extends HoopError {
  constructor(message: string) {
    super("invalid_argument", message);
    this.name = "FrameError";
  }
}

const EMPTY = new Uint8Array(0);

function frameFault(f: RecordFault): FrameError {
  switch (f.kind) {
    case "truncated_header":
      return new FrameError(
        `Cannot read frame: the stream ended after ${f.got} of ${f.of} header bytes`,
      );
    case "truncated_body":
      return new FrameError(
        `Cannot read frame: the stream ended after ${f.got} of ${f.of} payload bytes`,
      );
    case "too_long":
      return new FrameError(
        `Cannot read frame: payload of ${f.bodyBytes} bytes exceeds the limit of ${f.max} bytes`,
      );
    case "bad_length":
      return new FrameError(`Cannot read frame: its length ${f.length} is invalid`);
  }
}

/**
 * Reads frames from a connection through one 64 KiB buffer, so that many small
 * frames cost one `read()` between them.
 */
export class FrameReader {
  #reader: TypeLengthReader;

  constructor(conn: ByteReader) {
    this.#reader = new TypeLengthReader(conn, {
      lengthIncludesSelf: false,
      maxBodyBytes: MAX_FRAME_PAYLOAD_BYTES,
      bufferBytes: FRAME_READ_BUFFER_BYTES,
      fault: frameFault,
    });
  }

  /**
   * The next frame, or `null` at a clean end of stream between frames.
   * Throws {@linkcode FrameError} for an oversized length or a stream that
   * ends inside a frame.
   */
  async next(): Promise<Frame | null> {
    const r = await this.#reader.next();
    return r && { type: r.type, payload: r.body };
  }
}

/** Encode one frame. Throws `RangeError` for a bad type or an oversized payload. */
export function encodeFrame(type: number, payload: Uint8Array = EMPTY): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 255) {
    throw new RangeError(`Cannot encode frame type ${type}: expected an integer from 0 to 255`);
  }
  if (payload.length > MAX_FRAME_PAYLOAD_BYTES) {
    throw new RangeError(
      `Cannot encode frame: payload of ${payload.length} bytes exceeds the limit of ${MAX_FRAME_PAYLOAD_BYTES} bytes`,
    );
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** Encode and write one frame completely. */
export async function writeFrame(
  w: ByteWriter,
  type: number,
  payload?: Uint8Array,
): Promise<void> {
  await writeAll(w, encodeFrame(type, payload));
}

/** Payload of a RESIZE frame. */
export function resizePayload(cols: number, rows: number): Uint8Array {
  for (const [what, v] of [["columns", cols], ["rows", rows]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
      throw new RangeError(`Cannot encode resize: ${what} ${v} is not an integer from 0 to 65535`);
    }
  }
  const out = new Uint8Array(4);
  const view = new DataView(out.buffer);
  view.setUint16(0, cols);
  view.setUint16(2, rows);
  return out;
}

/** Read a RESIZE payload. Throws {@linkcode FrameError} unless it has 4 bytes. */
export function parseResize(payload: Uint8Array): { cols: number; rows: number } {
  if (payload.length !== 4) {
    throw new FrameError(
      `Cannot parse resize frame: payload has ${payload.length} bytes, expected 4`,
    );
  }
  const view = new DataView(payload.buffer, payload.byteOffset, 4);
  return { cols: view.getUint16(0), rows: view.getUint16(2) };
}

/** Payload of an EXIT frame. */
export function exitPayload(code: number): Uint8Array {
  if (!Number.isInteger(code) || code < -0x80000000 || code > 0x7fffffff) {
    throw new RangeError(`Cannot encode exit code ${code}: expected a 32-bit integer`);
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, code);
  return out;
}

/** Read an EXIT payload. Throws {@linkcode FrameError} unless it has 4 bytes. */
export function parseExit(payload: Uint8Array): number {
  if (payload.length !== 4) {
    throw new FrameError(
      `Cannot parse exit frame: payload has ${payload.length} bytes, expected 4`,
    );
  }
  return new DataView(payload.buffer, payload.byteOffset, 4).getInt32(0);
}

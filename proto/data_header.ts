/**
 * The data-plane connection header. Every data connection, from a client or
 * an agent to the gateway's data port, starts with 38 bytes:
 *
 * ```
 * magic "HOOP" (4) | version u8 (1) | side u8 (1 client, 2 agent, 3 warm) | ticket (32)
 * ```
 *
 * Side 3 parks a warm connection (gateway/warm_parking.ts): its 32 bytes are
 * a warm key from WELCOME, not a ticket. The gateway answers `0` once the
 * connection is parked, and later the same connection sends an ordinary
 * client or agent header with the session's ticket, answered as usual.
 *
 * The gateway answers one status byte: `0` when the ticket matched and the
 * connection is about to be spliced to its peer, otherwise a refusal code
 * ({@linkcode DataStatus}) followed by a u16 big-endian length and a UTF-8
 * message of at most {@linkcode MAX_STATUS_MESSAGE_BYTES}, after which the
 * gateway closes. Bytes after the header (and after the status byte) belong to
 * the session, so every reader here reads exactly what it needs and no more.
 *
 * DATA_PROTOCOL_VERSION history:
 * - 1: first version.
 *
 * @module
 */
import { type ByteReader, fillBuffer, readFull, writeAll } from "./bytes.ts";
import { HoopError } from "./errors.ts";

/** Version byte of the data-plane header. */
export const DATA_PROTOCOL_VERSION = 1;
/** "HOOP" in ASCII. */
export const DATA_MAGIC: Uint8Array = new Uint8Array([0x48, 0x4f, 0x4f, 0x50]);
/** Size of a data ticket. */
export const TICKET_BYTES = 32;
/** Size of the whole header. */
export const DATA_HEADER_BYTES = 4 + 1 + 1 + TICKET_BYTES;
/** Longest refusal message; {@linkcode writeStatus} cuts longer ones. */
export const MAX_STATUS_MESSAGE_BYTES = 1024;

/** Which party dials: the user's client or the agent, or a warm connection being parked. */
export const DataSide = { CLIENT: 1, AGENT: 2, WARM: 3 } as const;
/** One of {@linkcode DataSide}. */
export type DataSide = typeof DataSide[keyof typeof DataSide];

/** Status codes the gateway answers a header with. */
export const DataStatus = {
  /** Accepted: session bytes follow. */
  OK: 0,
  /** Bad magic, version or side. */
  BAD_HEADER: 1,
  /** The ticket is unknown, used or expired. */
  BAD_TICKET: 2,
  /** The other side never came, or failed. */
  PEER_FAILED: 3,
  /** The gateway failed. */
  INTERNAL: 4,
} as const;

/** A data connection whose header or status could not be read. */
export class DataHeaderError extends HoopError {
  /** The refusal code a gateway should answer with (see {@linkcode DataStatus}). */
  readonly status: number;

  constructor(
    message: string,
    options: { status?: number; timeout?: boolean; cause?: unknown } = {},
  ) {
    super(options.timeout ? "unavailable" : "invalid_argument", message, { cause: options.cause });
    this.name = "DataHeaderError";
    this.status = options.status ?? DataStatus.BAD_HEADER;
  }
}

/** Build the 38-byte header for `side` and a 32-byte ticket. */
export function encodeHeader(side: DataSide, ticket: Uint8Array): Uint8Array {
  if (side !== DataSide.CLIENT && side !== DataSide.AGENT && side !== DataSide.WARM) {
    throw new RangeError(`Cannot encode data header: unknown side ${side}`);
  }
  if (ticket.length !== TICKET_BYTES) {
    throw new RangeError(
      `Cannot encode data header: the ticket has ${ticket.length} bytes, expected ${TICKET_BYTES}`,
    );
  }
  const out = new Uint8Array(DATA_HEADER_BYTES);
  out.set(DATA_MAGIC, 0);
  out[4] = DATA_PROTOCOL_VERSION;
  out[5] = side;
  out.set(ticket, 6);
  return out;
}

/**
 * Run `work` with a deadline. On expiry the connection is closed, because
 * a read still pending would otherwise swallow session bytes later.
 */
async function withDeadline<T>(
  conn: { close(): void },
  timeoutMs: number,
  what: string,
  work: () => Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        conn.close();
      } catch {
        // Already closed: the pending read fails on its own.
      }
      reject(
        new DataHeaderError(`Cannot read ${what}: no answer within ${timeoutMs} ms`, {
          timeout: true,
        }),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Read and check a data header, consuming exactly its 38 bytes. Throws
 * {@linkcode DataHeaderError} on bad magic, version or side, on a short read,
 * and after `timeoutMs` (then the connection has been closed).
 */
export function readHeader(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<{ side: DataSide; ticket: Uint8Array }> {
  return withDeadline(conn, timeoutMs, "data header", async () => {
    // The magic is read on its own so that a stranger (an HTTP probe, a TLS
    // client on a plain port) is refused at once rather than at the deadline.
    const magic = await readPart(conn, 4, 0);
    if (!sameBytes(magic, DATA_MAGIC)) {
      const hint = magic[0] === 0x16
        ? ": this looks like a TLS handshake, but the data port is plain TCP"
        : ": not a hoop data connection";
      throw new DataHeaderError(`Cannot accept data connection: bad magic${hint}`);
    }
    const rest = await readPart(conn, DATA_HEADER_BYTES - 4, 4);
    const version = rest[0];
    if (version !== DATA_PROTOCOL_VERSION) {
      throw new DataHeaderError(
        `Cannot accept data connection: protocol version ${version} is not supported: this side speaks version ${DATA_PROTOCOL_VERSION}`,
      );
    }
    const side = rest[1];
    if (side !== DataSide.CLIENT && side !== DataSide.AGENT && side !== DataSide.WARM) {
      throw new DataHeaderError(
        `Cannot accept data connection: unknown side ${side}: expected 1 (client), 2 (agent) or 3 (warm)`,
      );
    }
    return { side: side as DataSide, ticket: rest.slice(2) };
  });
}

async function readPart(conn: ByteReader, n: number, before: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  const got = await fillBuffer(conn, buf);
  if (got === n) return buf;
  throw new DataHeaderError(
    before + got === 0
      ? "Cannot read data header: the connection closed before sending it"
      : `Cannot read data header: the connection closed after ${
        before + got
      } of ${DATA_HEADER_BYTES} bytes`,
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Cut UTF-8 bytes to at most `max` without splitting a character. */
function cutUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * Answer a header: `0` accepts, any other code (1..255) refuses with a
 * message, cut to {@linkcode MAX_STATUS_MESSAGE_BYTES}.
 */
export async function writeStatus(conn: Deno.Conn, code: number, message = ""): Promise<void> {
  if (!Number.isInteger(code) || code < 0 || code > 255) {
    throw new RangeError(`Cannot write data status ${code}: expected an integer from 0 to 255`);
  }
  if (code === DataStatus.OK) return await writeAll(conn, new Uint8Array([0]));
  const text = cutUtf8(encoder.encode(message), MAX_STATUS_MESSAGE_BYTES);
  const out = new Uint8Array(3 + text.length);
  out[0] = code;
  new DataView(out.buffer).setUint16(1, text.length);
  out.set(text, 3);
  await writeAll(conn, out);
}

/**
 * Read the gateway's answer to a header, consuming exactly the status (and
 * its message on refusal). Throws {@linkcode DataHeaderError} when the
 * connection ends first, the message is too long, or after `timeoutMs`
 * (then the connection has been closed).
 */
export function readStatus(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<{ ok: true } | { ok: false; code: number; message: string }> {
  return withDeadline(conn, timeoutMs, "data status", async () => {
    const closed = "Cannot read data status: the gateway closed the connection before answering";
    let first: Uint8Array | null;
    try {
      first = await readFull(conn, 1, "data status");
    } catch (err) {
      throw new DataHeaderError(closed, { cause: err });
    }
    if (first === null) throw new DataHeaderError(closed);
    const code = first[0];
    if (code === DataStatus.OK) return { ok: true as const };
    let message = "";
    try {
      const len = await readFull(conn, 2, "data status");
      if (len === null) throw new DataHeaderError(closed);
      const n = (len[0] << 8) | len[1];
      if (n > MAX_STATUS_MESSAGE_BYTES) {
        throw new DataHeaderError(
          `Cannot read data status: the message has ${n} bytes, more than ${MAX_STATUS_MESSAGE_BYTES}`,
        );
      }
      const body = n === 0 ? new Uint8Array(0) : await readFull(conn, n, "data status");
      if (body === null) throw new DataHeaderError(closed);
      message = decoder.decode(body);
    } catch (err) {
      if (err instanceof DataHeaderError) throw err;
      if (err instanceof Deno.errors.UnexpectedEof) {
        throw new DataHeaderError(closed, { cause: err });
      }
      throw err;
    }
    return { ok: false as const, code, message };
  });
}

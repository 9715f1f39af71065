/**
 * The buffered reader of PostgreSQL's typed messages, on the shared
 * {@linkcode TypeLengthReader} with PostgreSQL's length rule (the length
 * counts itself) and its own limits and error wording.
 *
 * @module
 */
import type { ByteReader } from "../bytes.ts";
import { HoopError } from "../errors.ts";
import { type RecordFault, TypeLengthReader } from "../type_length_reader.ts";

/**
 * Default body limit of {@linkcode MessageReader}. hoop reads whole messages
 * only during authentication and in `hoop exec` results; a body over the limit
 * makes `next()` throw `resource_exhausted` (the connection is then unusable)
 * rather than allocate it. PostgreSQL's own ceiling is 1 GiB.
 */
export const MAX_MESSAGE_BODY_BYTES = 256 * 1024 * 1024;

/** Default read buffer of {@linkcode MessageReader}: a login or a page of rows per `read()`. */
export const MESSAGE_READ_BUFFER_BYTES = 16 * 1024;

/** One typed protocol message. */
export interface PgMessage {
  /** The type byte as a one-character string (`R`, `E`, `Z`...). */
  type: string;
  /** The body (after the length), owned by the caller. */
  body: Uint8Array;
}

/** Options of {@linkcode MessageReader}. */
export interface MessageReaderOptions {
  /** Body limit; see {@linkcode MAX_MESSAGE_BODY_BYTES}. */
  maxBodyBytes?: number;
  /** Size of the read buffer; see {@linkcode MESSAGE_READ_BUFFER_BYTES}. */
  bufferBytes?: number;
}

function messageFault(f: RecordFault): Error {
  switch (f.kind) {
    case "truncated_header":
      return new Deno.errors.UnexpectedEof(
        "Cannot read PostgreSQL message: the stream ended in the middle of a message",
      );
    case "truncated_body":
      return new Deno.errors.UnexpectedEof(
        `Cannot read PostgreSQL message "${
          String.fromCharCode(f.type)
        }": the stream ended in its body`,
      );
    case "bad_length":
      return new HoopError(
        "invalid_argument",
        `Cannot read PostgreSQL message "${
          String.fromCharCode(f.type)
        }": its length ${f.length} is invalid`,
      );
    case "too_long":
      return new HoopError(
        "resource_exhausted",
        `Cannot read PostgreSQL message "${
          String.fromCharCode(f.type)
        }": its body of ${f.bodyBytes} bytes is over the ${f.max} byte limit`,
      );
  }
}

/**
 * Buffered reader of typed messages. It may read past the current message;
 * {@linkcode MessageReader.takeBuffered} hands those bytes back so that a
 * caller switching to a raw splice loses nothing.
 */
export class MessageReader {
  #reader: TypeLengthReader;

  constructor(r: ByteReader, opts: MessageReaderOptions = {}) {
    this.#reader = new TypeLengthReader(r, {
      lengthIncludesSelf: true,
      maxBodyBytes: opts.maxBodyBytes ?? MAX_MESSAGE_BODY_BYTES,
      bufferBytes: opts.bufferBytes ?? MESSAGE_READ_BUFFER_BYTES,
      fault: messageFault,
    });
  }

  /** Bytes read from the stream and not yet returned as messages. */
  get buffered(): number {
    return this.#reader.buffered;
  }

  /** Remove and return the buffered bytes. */
  takeBuffered(): Uint8Array {
    return this.#reader.takeBuffered();
  }

  /** The next message, or `null` on end of stream at a message boundary. */
  async next(): Promise<PgMessage | null> {
    const r = await this.#reader.next();
    return r && { type: String.fromCharCode(r.type), body: r.body };
  }
}

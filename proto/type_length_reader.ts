/**
 * The one buffered reader of `type u8 | length u32 BE | body` records, the
 * shape shared by hoop's exec/console frames (length counts the body) and
 * PostgreSQL's messages (length counts itself too). Each protocol wraps it
 * with its own limits and error wording.
 *
 * One read buffer serves many small records per `read()`; a body longer than
 * the buffer is read straight into its own array, so memory per reader is
 * the buffer plus the record being returned, never more than the limit.
 *
 * @module
 */

/** Why a record could not be read; each protocol words these its own way. */
export type RecordFault =
  | { kind: "truncated_header"; got: number; of: number }
  | { kind: "truncated_body"; type: number; got: number; of: number }
  | { kind: "bad_length"; type: number; length: number }
  | { kind: "too_long"; type: number; bodyBytes: number; max: number };

/** Options of {@linkcode TypeLengthReader}. */
export interface TypeLengthReaderOptions {
  /** True when the length field counts its own 4 bytes (PostgreSQL). */
  lengthIncludesSelf: boolean;
  /** Largest body accepted; a longer one is a fault, read no further. */
  maxBodyBytes: number;
  /** Size of the one read buffer. */
  bufferBytes: number;
  /** The error to throw for a fault. */
  fault(f: RecordFault): Error;
}

/** One record: its type byte and its own copy of the body. */
export interface TypedRecord {
  type: number;
  body: Uint8Array<ArrayBuffer>;
}

const HEADER_BYTES = 5;

/** Reads typed, length-prefixed records from a byte stream. */
export class TypeLengthReader {
  #r: { read(p: Uint8Array): Promise<number | null> };
  #opts: TypeLengthReaderOptions;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;

  constructor(r: { read(p: Uint8Array): Promise<number | null> }, opts: TypeLengthReaderOptions) {
    this.#r = r;
    this.#opts = opts;
    this.#buf = new Uint8Array(Math.max(opts.bufferBytes, HEADER_BYTES));
  }

  /** Bytes read from the stream and not yet returned in a record. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Remove and return the buffered bytes (a caller switching to a raw relay loses nothing). */
  takeBuffered(): Uint8Array<ArrayBuffer> {
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end = 0;
    return out;
  }

  /** The next record, or `null` at a clean end of stream between records. */
  async next(): Promise<TypedRecord | null> {
    if (!(await this.#fill(HEADER_BYTES))) {
      const got = this.#end - this.#start;
      if (got === 0) return null;
      throw this.#opts.fault({ kind: "truncated_header", got, of: HEADER_BYTES });
    }
    const b = this.#buf;
    const s = this.#start;
    const type = b[s];
    const length = ((b[s + 1] << 24) >>> 0) + (b[s + 2] << 16) + (b[s + 3] << 8) + b[s + 4];
    let bodyBytes = length;
    if (this.#opts.lengthIncludesSelf) {
      if (length < 4 || length > 0x7fffffff) {
        throw this.#opts.fault({ kind: "bad_length", type, length: length | 0 });
      }
      bodyBytes = length - 4;
    }
    if (bodyBytes > this.#opts.maxBodyBytes) {
      throw this.#opts.fault({ kind: "too_long", type, bodyBytes, max: this.#opts.maxBodyBytes });
    }
    this.#start += HEADER_BYTES;
    const body = new Uint8Array(bodyBytes);
    const buffered = Math.min(bodyBytes, this.#end - this.#start);
    body.set(b.subarray(this.#start, this.#start + buffered));
    this.#start += buffered;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    let off = buffered;
    while (off < bodyBytes) {
      const got = await this.#r.read(body.subarray(off));
      if (got === null) {
        throw this.#opts.fault({ kind: "truncated_body", type, got: off, of: bodyBytes });
      }
      off += got;
    }
    return { type, body };
  }

  /** Buffer at least `n` bytes; false when the stream ends first. */
  async #fill(n: number): Promise<boolean> {
    if (this.#end - this.#start >= n) return true;
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    while (this.#end < n) {
      const got = await this.#r.read(this.#buf.subarray(this.#end));
      if (got === null) return false;
      this.#end += got;
    }
    return true;
  }
}

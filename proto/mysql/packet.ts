/**
 * MySQL packet framing: a 3-byte little-endian length and a sequence id in
 * front of every payload. A payload of 16 MiB - 1 or more is split into
 * packets of exactly {@linkcode MAX_PACKET_PAYLOAD} bytes, the last shorter
 * (possibly empty); {@linkcode PacketReader} joins them into one message.
 * Also the length-encoded integers and strings the protocol's bodies use.
 *
 * @module
 */
import type { ByteReader } from "../bytes.ts";
import { HoopError } from "../errors.ts";

/** Largest payload of one packet; a message of this size or more continues in the next packet. */
export const MAX_PACKET_PAYLOAD = 0xffffff;

/** A malformed MySQL message; it ends the session that sent it. */
export class MysqlProtocolError extends HoopError {
  constructor(message: string) {
    super("invalid_argument", `MySQL protocol error: ${message}`);
    this.name = "MysqlProtocolError";
  }
}

/** One logical message: the sequence id of its first packet and the joined payload. */
export interface MysqlMessage {
  seq: number;
  /** Sequence id of the message's last packet (the next message continues from it). */
  lastSeq: number;
  payload: Uint8Array;
}

/**
 * Reads whole messages from a byte stream, joining split packets. A message
 * longer than `maxBytes` is refused with {@linkcode MysqlProtocolError}
 * before it is buffered.
 */
export class PacketReader {
  #r: ByteReader;
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;

  constructor(r: ByteReader) {
    this.#r = r;
  }

  /** Bytes read past the last message (handed to the relay after the login). */
  leftover(): Uint8Array {
    return this.#buf.slice(this.#start, this.#end);
  }

  async #fill(n: number): Promise<boolean> {
    while (this.#end - this.#start < n) {
      if (this.#buf.length - this.#start < n) {
        const next = new Uint8Array(Math.max(n, 16 * 1024, this.#buf.length));
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#end -= this.#start;
        this.#start = 0;
        this.#buf = next;
      } else if (this.#buf.length - this.#end < n - (this.#end - this.#start)) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const got = await this.#r.read(this.#buf.subarray(this.#end));
      if (got === null) return false;
      this.#end += got;
    }
    return true;
  }

  /** The next message, or `null` at a clean end of stream (between messages). */
  async next(maxBytes: number): Promise<MysqlMessage | null> {
    const parts: Uint8Array[] = [];
    let total = 0;
    let seq = -1;
    for (;;) {
      if (!await this.#fill(4)) {
        if (parts.length === 0 && this.#end === this.#start) return null;
        throw new MysqlProtocolError("the stream ended inside a packet header");
      }
      const b = this.#buf;
      const s = this.#start;
      const len = b[s] | (b[s + 1] << 8) | (b[s + 2] << 16);
      const id = b[s + 3];
      if (seq < 0) seq = id;
      if (total + len > maxBytes) {
        throw new MysqlProtocolError(`a message of more than ${maxBytes} bytes`);
      }
      this.#start += 4;
      if (!await this.#fill(len)) throw new MysqlProtocolError("the stream ended inside a packet");
      parts.push(this.#buf.slice(this.#start, this.#start + len));
      this.#start += len;
      total += len;
      if (len < MAX_PACKET_PAYLOAD) {
        const payload = parts.length === 1 ? parts[0] : join(parts, total);
        return { seq, lastSeq: id, payload };
      }
    }
  }
}

function join(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Frame `payload` as packets starting at sequence id `seq`, split at {@linkcode MAX_PACKET_PAYLOAD}. */
export function encodePacket(seq: number, payload: Uint8Array): Uint8Array {
  const count = Math.floor(payload.length / MAX_PACKET_PAYLOAD) + 1;
  const out = new Uint8Array(payload.length + 4 * count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const chunk = payload.subarray(i * MAX_PACKET_PAYLOAD, (i + 1) * MAX_PACKET_PAYLOAD);
    out[at] = chunk.length & 0xff;
    out[at + 1] = (chunk.length >> 8) & 0xff;
    out[at + 2] = (chunk.length >> 16) & 0xff;
    out[at + 3] = (seq + i) & 0xff;
    out.set(chunk, at + 4);
    at += 4 + chunk.length;
  }
  return out;
}

const dec = new TextDecoder();
const enc = new TextEncoder();

/** Bounds-checked reading of a message body; every overrun is a {@linkcode MysqlProtocolError}. */
export class Cursor {
  readonly bytes: Uint8Array;
  pos: number;

  constructor(bytes: Uint8Array, pos = 0) {
    this.bytes = bytes;
    this.pos = pos;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  #need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.bytes.length) {
      throw new MysqlProtocolError(`${what} runs past the end of the message`);
    }
  }

  u8(what = "a byte"): number {
    this.#need(1, what);
    return this.bytes[this.pos++];
  }

  u16(what = "an integer"): number {
    this.#need(2, what);
    const b = this.bytes, p = this.pos;
    this.pos += 2;
    return b[p] | (b[p + 1] << 8);
  }

  u24(what = "an integer"): number {
    this.#need(3, what);
    const b = this.bytes, p = this.pos;
    this.pos += 3;
    return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16);
  }

  u32(what = "an integer"): number {
    this.#need(4, what);
    const b = this.bytes, p = this.pos;
    this.pos += 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  u64(what = "an integer"): bigint {
    const lo = this.u32(what);
    const hi = this.u32(what);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  take(n: number, what = "a field"): Uint8Array {
    this.#need(n, what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  rest(): Uint8Array {
    return this.take(this.remaining);
  }

  /** A NUL-terminated string (the NUL consumed). */
  cstring(what = "a string"): string {
    const end = this.bytes.indexOf(0, this.pos);
    if (end < 0) throw new MysqlProtocolError(`${what} is not NUL-terminated`);
    const s = dec.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  /** A length-encoded integer; `null` for the 0xfb NULL marker of text rows. */
  lenenc(what = "a length"): number | null {
    const first = this.u8(what);
    if (first < 0xfb) return first;
    if (first === 0xfb) return null;
    if (first === 0xfc) return this.u16(what);
    if (first === 0xfd) return this.u24(what);
    if (first === 0xfe) {
      const v = this.u64(what);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MysqlProtocolError(`${what} is absurd`);
      return Number(v);
    }
    throw new MysqlProtocolError(`${what} starts with the invalid byte 0xff`);
  }

  lenencBytes(what = "a field"): Uint8Array | null {
    const n = this.lenenc(what);
    return n === null ? null : this.take(n, what);
  }

  lenencString(what = "a string"): string | null {
    const b = this.lenencBytes(what);
    return b === null ? null : dec.decode(b);
  }
}

/** Builds a message body. */
export class BodyWriter {
  #parts: number[] = [];
  #chunks: Uint8Array[] = [];
  #len = 0;

  #flush(): void {
    if (this.#parts.length) {
      this.#chunks.push(Uint8Array.from(this.#parts));
      this.#len += this.#parts.length;
      this.#parts = [];
    }
  }

  u8(v: number): this {
    this.#parts.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.u8(v).u8(v >> 8);
  }

  u24(v: number): this {
    return this.u8(v).u8(v >> 8).u8(v >> 16);
  }

  u32(v: number): this {
    return this.u8(v).u8(v >> 8).u8(v >> 16).u8(v >>> 24);
  }

  bytes(b: Uint8Array): this {
    this.#flush();
    this.#chunks.push(b);
    this.#len += b.length;
    return this;
  }

  zeros(n: number): this {
    return this.bytes(new Uint8Array(n));
  }

  cstring(s: string): this {
    return this.bytes(enc.encode(s)).u8(0);
  }

  lenenc(n: number): this {
    if (n < 0xfb) return this.u8(n);
    if (n <= 0xffff) return this.u8(0xfc).u16(n);
    if (n <= 0xffffff) return this.u8(0xfd).u24(n);
    return this.u8(0xfe).u32(n % 0x100000000).u32(Math.floor(n / 0x100000000));
  }

  lenencBytes(b: Uint8Array): this {
    return this.lenenc(b.length).bytes(b);
  }

  lenencString(s: string): this {
    return this.lenencBytes(enc.encode(s));
  }

  finish(): Uint8Array {
    this.#flush();
    return join(this.#chunks, this.#len);
  }
}

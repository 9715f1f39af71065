/**
 * {@linkcode CommandFilter}, the agent's read side of a MySQL client after
 * the login: bytes pass unchanged, except a `COM_CHANGE_USER`, which would
 * let the client log in as another account with its own password. It is cut
 * out of the stream and answered with an ERR packet instead; the session
 * stays logged in as the connection's user.
 *
 * @module
 */
import { encodeErr, encodePacket, ErrorCode, MAX_PACKET_PAYLOAD } from "../../proto/mysql/mod.ts";
import { Command } from "../../proto/mysql/commands.ts";

/** The answer to a refused `COM_CHANGE_USER`. */
export const CHANGE_USER_REFUSED = encodePacket(
  1,
  encodeErr({
    code: ErrorCode.NOT_SUPPORTED,
    sqlstate: "42000",
    message: "hoop: COM_CHANGE_USER is refused: this session stays the connection's user " +
      "(reconnect instead)",
  }),
);

/**
 * A `Deno.Conn` view of the client whose `read()` drops `COM_CHANGE_USER`
 * packets (writing the refusal to the client) and passes every other byte.
 * It counts packet lengths, so it copies nothing; a header split across reads
 * is carried in a 5-byte buffer.
 */
export class CommandFilter {
  #conn: Deno.Conn;
  #pending: Uint8Array;
  /** Payload bytes left in the current packet (passed or dropped). */
  #left = 0;
  #dropping = false;
  /** The current packet is a continuation of a split message. */
  #continued = false;
  #carry: Uint8Array = new Uint8Array(0);
  /** Filtered bytes that did not fit the caller's buffer. */
  #ready: Uint8Array = new Uint8Array(0);

  constructor(conn: Deno.Conn, initial: Uint8Array) {
    this.#conn = conn;
    this.#pending = initial;
  }

  /** Read bytes for the server; `null` at end of stream. */
  async read(buf: Uint8Array): Promise<number | null> {
    if (this.#ready.length) return this.#take(this.#ready, buf);
    for (;;) {
      let chunk: Uint8Array;
      if (this.#pending.length) {
        chunk = this.#pending.subarray(0, buf.length);
        this.#pending = this.#pending.subarray(chunk.length);
      } else {
        const n = await this.#conn.read(buf);
        if (n === null) return this.#carry.length ? this.#flushCarry(buf) : null;
        chunk = buf.subarray(0, n);
      }
      const out = await this.#filter(chunk);
      if (out.length === 0) continue;
      // The usual case, nothing dropped or carried: the bytes are already in place.
      if (out.buffer === buf.buffer && out.byteOffset === buf.byteOffset) return out.length;
      return this.#take(out.slice(), buf);
    }
  }

  #take(ready: Uint8Array, buf: Uint8Array): number {
    const n = Math.min(ready.length, buf.length);
    buf.set(ready.subarray(0, n));
    this.#ready = ready.subarray(n);
    return n;
  }

  #flushCarry(buf: Uint8Array): number {
    const n = this.#carry.length;
    buf.set(this.#carry);
    this.#carry = new Uint8Array(0);
    return n;
  }

  /** The bytes of `chunk` to pass on (a view of it, or a new array when a header was carried). */
  async #filter(input: Uint8Array): Promise<Uint8Array> {
    let chunk = input;
    if (this.#carry.length) {
      const joined = new Uint8Array(this.#carry.length + input.length);
      joined.set(this.#carry);
      joined.set(input, this.#carry.length);
      chunk = joined;
      this.#carry = new Uint8Array(0);
    }
    const keep: Uint8Array[] = [];
    // Invariant: while dropping, `from === at` (nothing of the packet is kept).
    let from = 0;
    let at = 0;
    while (at < chunk.length) {
      if (this.#left > 0) {
        const n = Math.min(this.#left, chunk.length - at);
        at += n;
        this.#left -= n;
        if (this.#dropping) from = at;
        continue;
      }
      const avail = chunk.length - at;
      if (avail < 4) {
        this.#carry = chunk.slice(at);
        break;
      }
      const len = chunk[at] | (chunk[at + 1] << 8) | (chunk[at + 2] << 16);
      const continued = this.#continued;
      const starts = !continued && chunk[at + 3] === 0 && len > 0;
      if (starts && avail < 5) {
        this.#carry = chunk.slice(at);
        break;
      }
      this.#continued = len === MAX_PACKET_PAYLOAD;
      const drop = continued ? this.#dropping : starts && chunk[at + 4] === Command.CHANGE_USER;
      if (drop && !continued) {
        if (at > from) keep.push(chunk.subarray(from, at));
        await this.#conn.write(CHANGE_USER_REFUSED).catch(() => {});
      }
      this.#dropping = drop;
      at += 4;
      this.#left = len;
      if (drop) from = at;
    }
    if (at > from) keep.push(chunk.subarray(from, at));
    if (keep.length === 1) return keep[0];
    const total = keep.reduce((s, k) => s + k.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const k of keep) {
      out.set(k, o);
      o += k.length;
    }
    return out;
  }

  write(p: Uint8Array): Promise<number> {
    return this.#conn.write(p);
  }

  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  close(): void {
    this.#conn.close();
  }
}

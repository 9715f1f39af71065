/**
 * {@linkcode StatementTap}, the gateway's audit observer of the client →
 * server PostgreSQL byte stream: it reports every statement a session runs
 * without slowing or altering the relay. It lives beside its only user, the
 * session broker; the wire codec it reads is `proto/pgwire/`.
 *
 * @module
 */
import {
  CANCEL_REQUEST_CODE,
  cstring,
  GSSENC_REQUEST_CODE,
  MAX_STARTUP_PACKET_BYTES,
  SSL_REQUEST_CODE,
} from "../../proto/pgwire/mod.ts";

/** Longest SQL text {@linkcode StatementTap} records; the rest is cut with {@linkcode TRUNCATION_MARKER}. */
export const MAX_TAP_SQL_BYTES = 64 * 1024;
/** Bytes of a `Bind` body {@linkcode StatementTap} looks at; parameters past it are not recorded. */
export const MAX_TAP_BIND_BYTES = 64 * 1024;
/**
 * SQL text kept for named prepared statements (to label later `Bind`s). Past
 * it the oldest are forgotten; a `Bind` of a forgotten statement is recorded
 * with a placeholder naming the statement.
 */
export const MAX_TAP_PREPARED_BYTES = 4 * 1024 * 1024;
/** Appended to SQL or parameters cut by the tap's limits. */
export const TRUNCATION_MARKER = " …[truncated]";

const dec = new TextDecoder();

/** A statement seen by {@linkcode StatementTap}. */
export interface TappedStatement {
  /** `query`: simple query (`Q`); `parse`: extended protocol (the SQL of a `P`, reported at each `Bind` of it). */
  kind: "query" | "parse";
  sql: string;
  /**
   * Text parameters of the `Bind` (extended protocol only). `NULL` stands for
   * an SQL NULL, `[binary N bytes]` for a binary one; past
   * {@linkcode MAX_TAP_BIND_BYTES} the list ends with {@linkcode TRUNCATION_MARKER}.
   */
  params?: string[];
}

/** Options of {@linkcode StatementTap}. */
export interface StatementTapOptions {
  /**
   * True (default): the stream starts at the client's very first byte
   * (`SSLRequest`, `StartupMessage`, `CancelRequest`). False: it starts at
   * the first typed message after the startup packet.
   */
  startup?: boolean;
}

const enum TapState {
  /** Reading an untyped packet header (4-byte length). */
  Startup,
  /** Reading a typed message header (type + length). */
  Typed,
  /** Not understood (for example TLS after an accepted SSLRequest): stop looking. */
  Off,
}

/**
 * Audit observer of the client → server stream. Feed it every chunk as it
 * passes (arbitrarily split); it calls `onStatement` for every simple query
 * (`Q`) and every execution of an extended-protocol statement: each `Bind`
 * is reported with the SQL of the `Parse` it names and its text parameters.
 * A statement parsed and never bound executes nothing and is not reported.
 *
 * It is on the relay's hot path, so it copies only the bodies it decodes, up
 * to their caps, and skips every other body by counting; the carry-over for a
 * split header is at most 5 bytes. Password and SASL messages are skipped
 * unseen. It never throws: a stream it does not understand turns it off
 * ({@linkcode StatementTap.off} says why), and a throwing callback is the
 * caller's bug, not the relay's, so its error is swallowed.
 */
export class StatementTap {
  #onStatement: (s: TappedStatement) => void;
  #state: TapState;
  #head = new Uint8Array(5);
  #headLen = 0;
  /** Type of the message whose body is being consumed, 0 when between messages. */
  #type = 0;
  /** Body bytes still to consume of the current message. */
  #remaining = 0;
  /** Total body length of the current message. */
  #bodyLen = 0;
  /** Collected prefix of an interesting body (capped). */
  #collect: Uint8Array | null = null;
  /** How much of the current body to collect (0: none). */
  #collectCap = 0;
  #collected = 0;
  /** Untyped packet in the startup phase being collected (small, capped). */
  #startupBody: Uint8Array | null = null;
  /** SQL of prepared statements by name, bounded by {@linkcode MAX_TAP_PREPARED_BYTES}. */
  #prepared = new Map<string, string>();
  #preparedBytes = 0;
  #offReason: string | undefined;

  constructor(onStatement: (s: TappedStatement) => void, opts: StatementTapOptions = {}) {
    this.#onStatement = onStatement;
    this.#state = opts.startup === false ? TapState.Typed : TapState.Startup;
  }

  /** Why the tap stopped looking, or `undefined` while it works. */
  get off(): string | undefined {
    return this.#offReason;
  }

  /** Feed the next chunk of the client → server stream. */
  push(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length && this.#state !== TapState.Off) {
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, chunk.length - off);
        if (this.#collectCap > 0 && this.#collect === null) {
          if (n === this.#remaining) {
            // The whole body is in this chunk (the usual case): decode it in place, no copy.
            // The view dies with #finishBody below, before the relay reuses its buffer.
            const take = Math.min(n, this.#collectCap);
            this.#collect = chunk.subarray(off, off + take);
            this.#collected = take;
          } else this.#collect = new Uint8Array(this.#collectCap);
        }
        if (this.#collect && this.#collected < this.#collect.length) {
          const take = Math.min(n, this.#collect.length - this.#collected);
          this.#collect.set(chunk.subarray(off, off + take), this.#collected);
          this.#collected += take;
        }
        this.#remaining -= n;
        off += n;
        if (this.#remaining === 0) this.#finishBody();
        continue;
      }
      const want = this.#state === TapState.Startup ? 4 : 5;
      const take = Math.min(want - this.#headLen, chunk.length - off);
      this.#head.set(chunk.subarray(off, off + take), this.#headLen);
      this.#headLen += take;
      off += take;
      if (this.#headLen < want) break;
      this.#headLen = 0;
      this.#startMessage();
    }
  }

  #turnOff(reason: string): void {
    this.#state = TapState.Off;
    this.#offReason = reason;
    this.#collect = null;
    this.#startupBody = null;
  }

  #startMessage(): void {
    const view = new DataView(this.#head.buffer);
    if (this.#state === TapState.Startup) {
      const len = view.getInt32(0);
      if (len < 8 || len > MAX_STARTUP_PACKET_BYTES) {
        this.#turnOff(`startup packet length ${len} is invalid (TLS or not PostgreSQL)`);
        return;
      }
      this.#type = 0;
      this.#bodyLen = this.#remaining = len - 4;
      this.#startupBody = new Uint8Array(Math.min(len - 4, 8));
      this.#collectCap = 0;
      this.#collect = this.#startupBody;
      this.#collected = 0;
      return;
    }
    const type = this.#head[0];
    const len = view.getInt32(1);
    if (len < 4) {
      this.#turnOff(`message length ${len} is invalid`);
      return;
    }
    this.#type = type;
    this.#bodyLen = this.#remaining = len - 4;
    this.#collected = 0;
    this.#collect = null;
    // What to keep of the body; the buffer is made only if the body spans chunks.
    if (type === 0x51 /* Q */ || type === 0x50 /* P */) {
      // Parse's name (<64 bytes) comes first: leave room for it beside the SQL cap.
      this.#collectCap = Math.min(this.#bodyLen, MAX_TAP_SQL_BYTES + 256);
    } else if (type === 0x42 /* B */) {
      this.#collectCap = Math.min(this.#bodyLen, MAX_TAP_BIND_BYTES);
    } else if (type === 0x43 /* C(lose) */) {
      this.#collectCap = Math.min(this.#bodyLen, 256);
    } else this.#collectCap = 0;
    if (this.#remaining === 0) this.#finishBody();
  }

  #finishBody(): void {
    const body = this.#collect ? this.#collect.subarray(0, this.#collected) : new Uint8Array(0);
    const truncated = this.#collected < this.#bodyLen;
    this.#collect = null;
    this.#collectCap = 0;
    if (this.#state === TapState.Startup) {
      this.#startupBody = null;
      const code = body.length >= 4 ? new DataView(body.buffer, body.byteOffset).getInt32(0) : 0;
      if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) return; // another untyped packet follows
      if (code === CANCEL_REQUEST_CODE) {
        this.#turnOff("cancel request: no statements follow");
        return;
      }
      if (code >>> 16 !== 3) {
        this.#turnOff(`protocol ${code >>> 16} is not PostgreSQL 3.x`);
        return;
      }
      this.#state = TapState.Typed;
      return;
    }
    switch (this.#type) {
      case 0x51: { // Query
        this.#emit({ kind: "query", sql: sqlText(body, 0, truncated, this.#bodyLen) });
        break;
      }
      case 0x50: { // Parse: name, sql, param types
        const name = cstring(body, 0);
        const sql = sqlText(body, name.next, truncated, this.#bodyLen);
        this.#remember(name.value, sql);
        break;
      }
      case 0x42: { // Bind: portal, statement, formats, params
        const portal = cstring(body, 0);
        const stmt = cstring(body, portal.next);
        const sql = this.#prepared.get(stmt.value) ??
          `(prepared statement "${stmt.value}" parsed before the recording started)`;
        this.#emit({ kind: "parse", sql, params: bindParams(body, stmt.next, truncated) });
        break;
      }
      case 0x43: { // Close: 'S' name closes a prepared statement
        if (body[0] === 0x53) this.#forget(cstring(body, 1).value);
        break;
      }
    }
  }

  #remember(name: string, sql: string): void {
    this.#forget(name);
    this.#prepared.set(name, sql);
    this.#preparedBytes += sql.length;
    for (const [k, v] of this.#prepared) {
      if (this.#preparedBytes <= MAX_TAP_PREPARED_BYTES) break;
      this.#prepared.delete(k);
      this.#preparedBytes -= v.length;
    }
  }

  #forget(name: string): void {
    const old = this.#prepared.get(name);
    if (old === undefined) return;
    this.#prepared.delete(name);
    this.#preparedBytes -= old.length;
  }

  #emit(s: TappedStatement): void {
    try {
      this.#onStatement(s);
    } catch {
      // The relay must not fail because the recorder did.
    }
  }
}

function sqlText(body: Uint8Array, off: number, truncated: boolean, total: number): string {
  let end = body.indexOf(0, off);
  if (end < 0) end = body.length;
  end = Math.min(end, off + MAX_TAP_SQL_BYTES);
  const sql = dec.decode(body.subarray(off, end));
  const cut = truncated || end - off >= MAX_TAP_SQL_BYTES && body[end] !== 0;
  return cut ? `${sql}${TRUNCATION_MARKER} (${total} bytes)` : sql;
}

function bindParams(body: Uint8Array, off: number, truncated: boolean): string[] {
  const out: string[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const avail = (n: number) => off + n <= body.length;
  if (!avail(2)) return truncated ? [TRUNCATION_MARKER.trim()] : out;
  const nFormats = view.getInt16(off);
  off += 2;
  if (nFormats < 0 || !avail(nFormats * 2 + 2)) return [TRUNCATION_MARKER.trim()];
  const formats: number[] = [];
  for (let i = 0; i < nFormats; i++) formats.push(view.getInt16(off + i * 2));
  off += nFormats * 2;
  const nParams = view.getInt16(off);
  off += 2;
  for (let i = 0; i < nParams; i++) {
    if (!avail(4)) {
      out.push(TRUNCATION_MARKER.trim());
      break;
    }
    const len = view.getInt32(off);
    off += 4;
    if (len < 0) {
      out.push("NULL");
      continue;
    }
    const format = nFormats === 0 ? 0 : nFormats === 1 ? formats[0] : formats[i] ?? 0;
    if (format === 1) {
      out.push(`[binary ${len} bytes]`);
    } else if (!avail(len)) {
      out.push(dec.decode(body.subarray(off)) + TRUNCATION_MARKER);
      break;
    } else {
      out.push(dec.decode(body.subarray(off, off + len)));
    }
    off += len;
    if (off > body.length) break;
  }
  return out;
}

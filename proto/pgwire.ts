/**
 * PostgreSQL frontend/backend protocol 3.0: the few messages hoop builds or
 * reads, a buffered message reader, and {@linkcode StatementTap}, the audit
 * observer the gateway runs on the client-to-server byte stream.
 *
 * Protocol flow as hoop sees it (agent plays server to the client and client
 * to the real server):
 *
 * 1. client → untyped packets: optional `SSLRequest`/`GSSENCRequest` (hoop
 *    answers `N`), then `StartupMessage` or `CancelRequest`.
 * 2. authentication: `R` requests from the server, `p` answers (password,
 *    SASL) from the client; ends with `AuthenticationOk`.
 * 3. `ParameterStatus`*, `BackendKeyData`, `ReadyForQuery`.
 * 4. typed messages both ways: `Q` simple query; `P`/`B`/`D`/`E`/`S` extended
 *    query; `d`/`c`/`f` COPY; `X` terminate.
 *
 * Typed messages are `type:u8 length:i32 body`, the length counting itself
 * but not the type byte. Untyped (startup phase) packets are `length:i32
 * code:i32 ...`.
 *
 * @module
 */
import { HoopError } from "./errors.ts";

/** `SSLRequest` code (untyped packet of 8 bytes). */
export const SSL_REQUEST_CODE = 80877103;
/** `GSSENCRequest` code (untyped packet of 8 bytes). */
export const GSSENC_REQUEST_CODE = 80877104;
/** `CancelRequest` code (followed by the backend pid and secret key). */
export const CANCEL_REQUEST_CODE = 80877102;
/** Protocol 3.0 as sent in `StartupMessage`. */
export const PROTOCOL_3_0 = 196608;

/**
 * Largest startup-phase packet accepted. PostgreSQL itself allows 10000 bytes;
 * a longer one is refused with an `invalid_argument` error.
 */
export const MAX_STARTUP_PACKET_BYTES = 10 * 1024;

/**
 * Default body limit of {@linkcode MessageReader}. hoop reads whole messages
 * only during authentication and in `hoop exec` results; a body over the limit
 * makes `next()` throw `resource_exhausted` (the connection is then unusable)
 * rather than allocate it. PostgreSQL's own ceiling is 1 GiB.
 */
export const MAX_MESSAGE_BODY_BYTES = 256 * 1024 * 1024;

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

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Something with `Deno.Conn`'s `read`. */
export interface ByteReader {
  read(p: Uint8Array): Promise<number | null>;
}

/** Something with `Deno.Conn`'s `write`. */
export interface ByteWriter {
  write(p: Uint8Array): Promise<number>;
}

/** Write all of `data` (Deno's `write` may write less than asked). */
export async function writeAll(w: ByteWriter, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await w.write(data.subarray(off));
}

/**
 * Read exactly `n` bytes. Returns `null` on end of stream before the first
 * byte; throws `UnexpectedEof` on end of stream in the middle.
 */
export async function readFull(r: ByteReader, n: number): Promise<Uint8Array | null> {
  const buf = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await r.read(buf.subarray(off));
    if (got === null) {
      if (off === 0) return null;
      throw new Deno.errors.UnexpectedEof(
        `Cannot read PostgreSQL message: the stream ended after ${off} of ${n} bytes`,
      );
    }
    off += got;
  }
  return buf;
}

/** The first packet of a client connection. */
export type StartupPacket =
  | { kind: "ssl" }
  | { kind: "gssenc" }
  | { kind: "cancel"; pid: number; secret: Uint8Array }
  | { kind: "startup"; protocol: number; params: Record<string, string> };

/**
 * Read one untyped startup-phase packet from a client. Reads exactly the
 * packet, never past it, so nothing is lost when the caller hands the conn on.
 * Returns `null` when the client closed before sending anything.
 */
export async function readStartup(conn: ByteReader): Promise<StartupPacket | null> {
  const head = await readFull(conn, 4);
  if (!head) return null;
  const len = new DataView(head.buffer).getInt32(0);
  if (len < 8 || len > MAX_STARTUP_PACKET_BYTES) {
    throw new HoopError(
      "invalid_argument",
      `Cannot read PostgreSQL startup packet: its length ${len} is outside 8..${MAX_STARTUP_PACKET_BYTES} bytes`,
    );
  }
  const body = await readFull(conn, len - 4);
  if (!body) {
    throw new Deno.errors.UnexpectedEof("Cannot read PostgreSQL startup packet: the stream ended");
  }
  return parseStartupBody(body);
}

/** Parse the bytes of an untyped packet after its length. */
export function parseStartupBody(body: Uint8Array): StartupPacket {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const code = view.getInt32(0);
  if (code === SSL_REQUEST_CODE) return { kind: "ssl" };
  if (code === GSSENC_REQUEST_CODE) return { kind: "gssenc" };
  if (code === CANCEL_REQUEST_CODE) {
    if (body.length < 12) {
      throw new HoopError(
        "invalid_argument",
        "Cannot read PostgreSQL cancel request: it is too short",
      );
    }
    return { kind: "cancel", pid: view.getInt32(4), secret: body.slice(8) };
  }
  if (code >>> 16 !== 3) {
    throw new HoopError(
      "invalid_argument",
      `Cannot accept PostgreSQL protocol ${code >>> 16}.${code & 0xffff}: only 3.x is supported`,
    );
  }
  const params: Record<string, string> = {};
  let off = 4;
  while (off < body.length) {
    const k = cstring(body, off);
    if (k.value === "") break;
    const v = cstring(body, k.next);
    params[k.value] = v.value;
    off = v.next;
  }
  return { kind: "startup", protocol: code, params };
}

/** Read a NUL-terminated string at `off`; `next` is past the NUL (or the end). */
export function cstring(buf: Uint8Array, off: number): { value: string; next: number } {
  let end = buf.indexOf(0, off);
  if (end < 0) end = buf.length;
  return { value: dec.decode(buf.subarray(off, end)), next: end + 1 };
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function int32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n);
  return b;
}

function cstr(s: string): Uint8Array {
  const b = enc.encode(s);
  if (b.includes(0)) {
    throw new HoopError(
      "invalid_argument",
      "Cannot encode PostgreSQL string: it contains a NUL byte",
    );
  }
  return concat([b, new Uint8Array(1)]);
}

/** Frame a typed message: type byte, length, body. */
export function encodeMessage(type: string, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

/** `StartupMessage` with the given parameters (`user` is required by servers). */
export function encodeStartup(params: Record<string, string>, protocol = PROTOCOL_3_0): Uint8Array {
  const parts: Uint8Array[] = [int32(protocol)];
  for (const [k, v] of Object.entries(params)) parts.push(cstr(k), cstr(v));
  parts.push(new Uint8Array(1));
  const body = concat(parts);
  return concat([int32(body.length + 4), body]);
}

/** `SSLRequest`. */
export function encodeSslRequest(): Uint8Array {
  return concat([int32(8), int32(SSL_REQUEST_CODE)]);
}

/** `CancelRequest` for a backend (pid and secret from its `BackendKeyData`). */
export function encodeCancel(pid: number, secret: Uint8Array): Uint8Array {
  return concat([int32(12 + secret.length), int32(CANCEL_REQUEST_CODE), int32(pid), secret]);
}

/** `PasswordMessage` (cleartext or `md5...` hash). */
export function encodePasswordMessage(password: string): Uint8Array {
  return encodeMessage("p", cstr(password));
}

/** `SASLInitialResponse`. */
export function encodeSaslInitialResponse(mechanism: string, data: Uint8Array): Uint8Array {
  return encodeMessage("p", concat([cstr(mechanism), int32(data.length), data]));
}

/** `SASLResponse`. */
export function encodeSaslResponse(data: Uint8Array): Uint8Array {
  return encodeMessage("p", data);
}

/** `Query` (simple query protocol). */
export function encodeQuery(sql: string): Uint8Array {
  return encodeMessage("Q", cstr(sql));
}

/** `Terminate`. */
export function encodeTerminate(): Uint8Array {
  return encodeMessage("X");
}

/** `CopyFail`. */
export function encodeCopyFail(message: string): Uint8Array {
  return encodeMessage("f", cstr(message));
}

/** `ErrorResponse` with severity (also as the non-localized `V`), SQLSTATE and message. */
export function encodeErrorResponse(severity: string, code: string, message: string): Uint8Array {
  return encodeMessage(
    "E",
    concat([
      enc.encode("S"),
      cstr(severity),
      enc.encode("V"),
      cstr(severity),
      enc.encode("C"),
      cstr(code),
      enc.encode("M"),
      cstr(message.replaceAll("\0", "")),
      new Uint8Array(1),
    ]),
  );
}

/** `AuthenticationOk`. */
export function encodeAuthenticationOk(): Uint8Array {
  return encodeMessage("R", int32(0));
}

/**
 * `NegotiateProtocolVersion`: tell a client asking for 3.x (x > 0) that only
 * `3.<minor>` is spoken and which `_pq_.` options were not recognized.
 */
export function encodeNegotiateProtocolVersion(minor: number, unsupported: string[]): Uint8Array {
  return encodeMessage(
    "v",
    concat([int32(minor), int32(unsupported.length), ...unsupported.map(cstr)]),
  );
}

/** Fields of an `ErrorResponse` or `NoticeResponse`. */
export interface PgErrorFields {
  /** Localized severity (`ERROR`, `FATAL`...); `V` when present. */
  severity: string;
  /** SQLSTATE. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** Every field by its one-letter code. */
  fields: Record<string, string>;
}

/** Parse the body of an `ErrorResponse` or `NoticeResponse`. */
export function parseErrorResponse(body: Uint8Array): PgErrorFields {
  const fields: Record<string, string> = {};
  let off = 0;
  while (off < body.length && body[off] !== 0) {
    const key = String.fromCharCode(body[off]);
    const v = cstring(body, off + 1);
    fields[key] = v.value;
    off = v.next;
  }
  return {
    severity: fields.V ?? fields.S ?? "ERROR",
    code: fields.C ?? "XX000",
    message: fields.M ?? "",
    detail: fields.D,
    hint: fields.H,
    fields,
  };
}

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
  /** Size of the read buffer. */
  bufferBytes?: number;
}

/**
 * Buffered reader of typed messages. It may read past the current message;
 * {@linkcode MessageReader.takeBuffered} hands those bytes back so that a
 * caller switching to a raw splice loses nothing.
 */
export class MessageReader {
  #r: ByteReader;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #max: number;

  constructor(r: ByteReader, opts: MessageReaderOptions = {}) {
    this.#r = r;
    this.#buf = new Uint8Array(opts.bufferBytes ?? 16 * 1024);
    this.#max = opts.maxBodyBytes ?? MAX_MESSAGE_BODY_BYTES;
  }

  /** Bytes read from the stream and not yet returned as messages. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Remove and return the buffered bytes. */
  takeBuffered(): Uint8Array {
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end = 0;
    return out;
  }

  /** Make at least `n` bytes available; false on end of stream before any byte. */
  async #fill(n: number): Promise<boolean> {
    if (this.#end - this.#start >= n) return true;
    if (this.#buf.length - this.#start < n) {
      // Compact (and grow for headers only; bodies past the buffer are read directly).
      const keep = this.#buf.subarray(this.#start, this.#end);
      const next = this.#buf.length < n ? new Uint8Array(n) : this.#buf;
      next.set(keep, 0);
      this.#buf = next;
      this.#end = keep.length;
      this.#start = 0;
    }
    const before = this.#end - this.#start;
    while (this.#end - this.#start < n) {
      const got = await this.#r.read(this.#buf.subarray(this.#end));
      if (got === null) {
        if (this.#end - this.#start === 0 && before === 0) return false;
        throw new Deno.errors.UnexpectedEof(
          "Cannot read PostgreSQL message: the stream ended in the middle of a message",
        );
      }
      this.#end += got;
    }
    return true;
  }

  /** The next message, or `null` on end of stream at a message boundary. */
  async next(): Promise<PgMessage | null> {
    if (!await this.#fill(5)) return null;
    const type = String.fromCharCode(this.#buf[this.#start]);
    const len = new DataView(this.#buf.buffer, this.#buf.byteOffset + this.#start + 1, 4).getInt32(
      0,
    );
    if (len < 4) {
      throw new HoopError(
        "invalid_argument",
        `Cannot read PostgreSQL message "${type}": its length ${len} is invalid`,
      );
    }
    const bodyLen = len - 4;
    if (bodyLen > this.#max) {
      throw new HoopError(
        "resource_exhausted",
        `Cannot read PostgreSQL message "${type}": its body of ${bodyLen} bytes is over the ${this.#max} byte limit`,
      );
    }
    this.#start += 5;
    if (bodyLen <= this.#buf.length) {
      await this.#fill(bodyLen);
      const body = this.#buf.slice(this.#start, this.#start + bodyLen);
      this.#start += bodyLen;
      if (this.#start === this.#end) this.#start = this.#end = 0;
      return { type, body };
    }
    const body = new Uint8Array(bodyLen);
    const have = this.#end - this.#start;
    body.set(this.#buf.subarray(this.#start, this.#end), 0);
    this.#start = this.#end = 0;
    let off = have;
    while (off < bodyLen) {
      const got = await this.#r.read(body.subarray(off));
      if (got === null) {
        throw new Deno.errors.UnexpectedEof(
          `Cannot read PostgreSQL message "${type}": the stream ended in its body`,
        );
      }
      off += got;
    }
    return { type, body };
  }
}

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
    if (type === 0x51 /* Q */ || type === 0x50 /* P */) {
      // Parse's name (<64 bytes) comes first: leave room for it beside the SQL cap.
      this.#collect = new Uint8Array(Math.min(this.#bodyLen, MAX_TAP_SQL_BYTES + 256));
    } else if (type === 0x42 /* B */) {
      this.#collect = new Uint8Array(Math.min(this.#bodyLen, MAX_TAP_BIND_BYTES));
    } else if (type === 0x43 /* C(lose) */) {
      this.#collect = new Uint8Array(Math.min(this.#bodyLen, 256));
    }
    if (this.#remaining === 0) this.#finishBody();
  }

  #finishBody(): void {
    const body = this.#collect ? this.#collect.subarray(0, this.#collected) : new Uint8Array(0);
    const truncated = this.#collected < this.#bodyLen;
    this.#collect = null;
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
  if (!avail(nFormats * 2 + 2)) return [TRUNCATION_MARKER.trim()];
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

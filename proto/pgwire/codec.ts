/**
 * PostgreSQL frontend/backend protocol 3.0: the constants, encoders and
 * parsers of the few messages hoop builds or reads.
 *
 * Protocol flow as hoop sees it (the agent plays server to the client and
 * client to the real server):
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
import { concatBytes } from "../bytes.ts";
import { HoopError } from "../errors.ts";

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

/** `AuthenticationOk`, the `R` code that ends a login. */
export const AUTH_OK = 0;
/** `AuthenticationCleartextPassword`. */
export const AUTH_CLEARTEXT_PASSWORD = 3;
/** `AuthenticationMD5Password` (a 4-byte salt follows). */
export const AUTH_MD5_PASSWORD = 5;
/** `AuthenticationSASL` (the mechanism names follow). */
export const AUTH_SASL = 10;
/** `AuthenticationSASLContinue`. */
export const AUTH_SASL_CONTINUE = 11;
/** `AuthenticationSASLFinal`. */
export const AUTH_SASL_FINAL = 12;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The first packet of a client connection. */
export type StartupPacket =
  | { kind: "ssl" }
  | { kind: "gssenc" }
  | { kind: "cancel"; pid: number; secret: Uint8Array }
  | { kind: "startup"; protocol: number; params: Record<string, string> };

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

/** The NUL-terminated strings from `off` up to an empty one (SASL mechanism lists). */
export function cstringList(buf: Uint8Array, off: number): string[] {
  const out: string[] = [];
  while (off < buf.length && buf[off] !== 0) {
    const s = cstring(buf, off);
    out.push(s.value);
    off = s.next;
  }
  return out;
}

/** The big-endian signed 32-bit integer at `off`. */
export function readInt32(buf: Uint8Array, off = 0): number {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getInt32(off);
}

/** `n` as a big-endian signed 16-bit integer (counts and format codes). */
export function int16Bytes(n: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setInt16(0, n);
  return b;
}

/** `n` as a big-endian signed 32-bit integer (lengths, codes, keys). */
export function int32Bytes(n: number): Uint8Array {
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
  return concatBytes([b, new Uint8Array(1)]);
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
  const parts: Uint8Array[] = [int32Bytes(protocol)];
  for (const [k, v] of Object.entries(params)) parts.push(cstr(k), cstr(v));
  parts.push(new Uint8Array(1));
  const body = concatBytes(parts);
  return concatBytes([int32Bytes(body.length + 4), body]);
}

/** `SSLRequest`. */
export function encodeSslRequest(): Uint8Array {
  return concatBytes([int32Bytes(8), int32Bytes(SSL_REQUEST_CODE)]);
}

/** `CancelRequest` for a backend (pid and secret from its `BackendKeyData`). */
export function encodeCancel(pid: number, secret: Uint8Array): Uint8Array {
  return concatBytes([
    int32Bytes(12 + secret.length),
    int32Bytes(CANCEL_REQUEST_CODE),
    int32Bytes(pid),
    secret,
  ]);
}

/** `BackendKeyData` (`K`): the key a client names its backend by in a `CancelRequest`. */
export function encodeBackendKeyData(pid: number, secret: Uint8Array): Uint8Array {
  return encodeMessage("K", concatBytes([int32Bytes(pid), secret]));
}

/**
 * The pid and secret of a `BackendKeyData` body; throws `invalid_argument`
 * when it is too short (protocol 3.0 has a 4-byte secret, 3.2 up to 256).
 */
export function parseBackendKeyData(body: Uint8Array): { pid: number; secret: Uint8Array } {
  if (body.length < 8) {
    throw new HoopError(
      "invalid_argument",
      `Cannot read PostgreSQL BackendKeyData: its body is ${body.length} bytes, less than 8`,
    );
  }
  return { pid: readInt32(body, 0), secret: body.slice(4) };
}

/** `PasswordMessage` (cleartext or `md5...` hash). */
export function encodePasswordMessage(password: string): Uint8Array {
  return encodeMessage("p", cstr(password));
}

/** `SASLInitialResponse`. */
export function encodeSaslInitialResponse(mechanism: string, data: Uint8Array): Uint8Array {
  return encodeMessage("p", concatBytes([cstr(mechanism), int32Bytes(data.length), data]));
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

/**
 * `ErrorResponse` with severity (also as the non-localized `V`), SQLSTATE,
 * message and, when given, a hint (`H`, which psql prints as `HINT:`).
 */
export function encodeErrorResponse(
  severity: string,
  code: string,
  message: string,
  hint?: string,
): Uint8Array {
  return encodeMessage(
    "E",
    concatBytes([
      enc.encode("S"),
      cstr(severity),
      enc.encode("V"),
      cstr(severity),
      enc.encode("C"),
      cstr(code),
      enc.encode("M"),
      cstr(message.replaceAll("\0", "")),
      ...(hint === undefined ? [] : [enc.encode("H"), cstr(hint.replaceAll("\0", ""))]),
      new Uint8Array(1),
    ]),
  );
}

/** An authentication request (`R`) with the given code and no payload. */
export function encodeAuthentication(code: number): Uint8Array {
  return encodeMessage("R", int32Bytes(code));
}

/** `AuthenticationOk`. */
export function encodeAuthenticationOk(): Uint8Array {
  return encodeAuthentication(AUTH_OK);
}

/**
 * `NegotiateProtocolVersion`: tell a client asking for 3.x (x > 0) that only
 * `3.<minor>` is spoken and which `_pq_.` options were not recognized.
 */
export function encodeNegotiateProtocolVersion(minor: number, unsupported: string[]): Uint8Array {
  return encodeMessage(
    "v",
    concatBytes([int32Bytes(minor), int32Bytes(unsupported.length), ...unsupported.map(cstr)]),
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

/**
 * Command-phase messages hoop reads: the command bytes, `COM_STMT_PREPARE_OK`
 * and `COM_STMT_EXECUTE` with its parameters in the binary protocol, decoded
 * to text for the audit.
 *
 * @module
 */
import { Cursor, MysqlProtocolError } from "./packet.ts";

/** Command bytes (the protocol's names, without the `COM_` prefix). */
export const Command = {
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  PROCESS_KILL: 0x0c,
  CHANGE_USER: 0x11,
  BINLOG_DUMP: 0x12,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  RESET_CONNECTION: 0x1f,
} as const;

/** Column and parameter types of the binary protocol (`MYSQL_TYPE_*`). */
export const FieldType = {
  DECIMAL: 0x00,
  TINY: 0x01,
  SHORT: 0x02,
  LONG: 0x03,
  FLOAT: 0x04,
  DOUBLE: 0x05,
  NULL: 0x06,
  TIMESTAMP: 0x07,
  LONGLONG: 0x08,
  INT24: 0x09,
  DATE: 0x0a,
  TIME: 0x0b,
  DATETIME: 0x0c,
  YEAR: 0x0d,
  VARCHAR: 0x0f,
  BIT: 0x10,
  JSON: 0xf5,
  NEWDECIMAL: 0xf6,
  ENUM: 0xf7,
  SET: 0xf8,
  TINY_BLOB: 0xf9,
  MEDIUM_BLOB: 0xfa,
  LONG_BLOB: 0xfb,
  BLOB: 0xfc,
  VAR_STRING: 0xfd,
  STRING: 0xfe,
  GEOMETRY: 0xff,
} as const;

/** `COM_STMT_PREPARE_OK`. */
export interface PrepareOk {
  statementId: number;
  columns: number;
  params: number;
}

/** Parse a `COM_STMT_PREPARE_OK` body; `undefined` when the body is not one. */
export function parsePrepareOk(body: Uint8Array): PrepareOk | undefined {
  if (body.length < 12 || body[0] !== 0) return undefined;
  const c = new Cursor(body, 1);
  return { statementId: c.u32(), columns: c.u16(), params: c.u16() };
}

/** A `COM_STMT_EXECUTE`, parameters decoded to text. */
export interface StmtExecute {
  statementId: number;
  /** Types sent (`type | unsigned << 15`), or `undefined` when the previous ones apply. */
  types?: number[];
  /** Each parameter as text: `NULL`, `[binary N bytes]` for blobs and non-UTF-8 bytes. */
  values: string[];
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parse a `COM_STMT_EXECUTE` body (command byte included) of a statement with
 * `paramCount` parameters; `previousTypes` are the types of the statement's
 * last execution, used when the client does not send them again; `longData`
 * the parameters sent before with `COM_STMT_SEND_LONG_DATA`.
 */
export function parseStmtExecute(
  body: Uint8Array,
  paramCount: number,
  previousTypes?: number[],
  longData?: ReadonlySet<number>,
): StmtExecute {
  const c = new Cursor(body, 1);
  const statementId = c.u32("the statement id");
  c.u8("the flags");
  c.u32("the iteration count");
  if (paramCount === 0) return { statementId, values: [] };
  const nulls = c.take((paramCount + 7) >> 3, "the NULL bitmap");
  const bound = c.u8("the new-params-bound flag");
  let types: number[] | undefined;
  if (bound === 1) {
    types = [];
    for (let i = 0; i < paramCount; i++) {
      const t = c.u8("a parameter type");
      const flags = c.u8("a parameter type");
      types.push(t | ((flags & 0x80) << 8));
    }
  }
  const use = types ?? previousTypes;
  if (!use || use.length !== paramCount) {
    throw new MysqlProtocolError("an execution without parameter types");
  }
  const values: string[] = [];
  for (let i = 0; i < paramCount; i++) {
    if (nulls[i >> 3] & (1 << (i & 7))) values.push("NULL");
    // Sent before with COM_STMT_SEND_LONG_DATA: the execution carries no value for it.
    else if (longData?.has(i)) values.push("[long data]");
    else values.push(binaryValue(c, use[i] & 0xff, (use[i] & 0x8000) !== 0));
  }
  return { statementId, types, values };
}

/** Decode one value of the binary protocol as text. */
export function binaryValue(c: Cursor, type: number, unsigned: boolean): string {
  switch (type) {
    case FieldType.NULL:
      return "NULL";
    case FieldType.TINY: {
      const v = c.u8();
      return String(unsigned ? v : (v << 24) >> 24);
    }
    case FieldType.SHORT:
    case FieldType.YEAR: {
      const v = c.u16();
      return String(unsigned ? v : (v << 16) >> 16);
    }
    case FieldType.LONG:
    case FieldType.INT24: {
      const v = c.u32();
      return String(unsigned ? v : v | 0);
    }
    case FieldType.LONGLONG: {
      const v = c.u64();
      return String(unsigned ? v : BigInt.asIntN(64, v));
    }
    case FieldType.FLOAT: {
      const b = c.take(4);
      return String(new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true));
    }
    case FieldType.DOUBLE: {
      const b = c.take(8);
      return String(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true));
    }
    case FieldType.DATE:
    case FieldType.DATETIME:
    case FieldType.TIMESTAMP:
      return dateTime(c.take(c.u8("a date length"), "a date"));
    case FieldType.TIME:
      return time(c.take(c.u8("a time length"), "a time"));
    case FieldType.TINY_BLOB:
    case FieldType.MEDIUM_BLOB:
    case FieldType.LONG_BLOB:
    case FieldType.BLOB:
    case FieldType.GEOMETRY:
    case FieldType.BIT: {
      const b = c.lenencBytes("a value") ?? new Uint8Array(0);
      return text(b) ?? `[binary ${b.length} bytes]`;
    }
    default: {
      const b = c.lenencBytes("a value") ?? new Uint8Array(0);
      return text(b) ?? `[binary ${b.length} bytes]`;
    }
  }
}

/** Printable UTF-8 text, or `undefined` for bytes that are not. */
function text(b: Uint8Array): string | undefined {
  try {
    const s = utf8.decode(b);
    // deno-lint-ignore no-control-regex
    return /[\x00-\x08\x0e-\x1f]/.test(s) ? undefined : s;
  } catch {
    return undefined;
  }
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

function dateTime(b: Uint8Array): string {
  if (b.length === 0) return "0000-00-00 00:00:00";
  const c = new Cursor(b);
  const y = c.u16(), mo = c.u8(), d = c.u8();
  let out = `${pad(y, 4)}-${pad(mo)}-${pad(d)}`;
  if (b.length >= 7) out += ` ${pad(c.u8())}:${pad(c.u8())}:${pad(c.u8())}`;
  if (b.length >= 11) out += `.${pad(c.u32(), 6)}`;
  return out;
}

function time(b: Uint8Array): string {
  if (b.length === 0) return "00:00:00";
  const c = new Cursor(b);
  const neg = c.u8(), days = c.u32(), h = c.u8(), m = c.u8(), s = c.u8();
  let out = `${neg ? "-" : ""}${pad(days * 24 + h)}:${pad(m)}:${pad(s)}`;
  if (b.length >= 12) out += `.${pad(c.u32(), 6)}`;
  return out;
}

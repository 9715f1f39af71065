/**
 * Generic response packets: OK, ERR, EOF and the authentication
 * exchange's `AuthSwitchRequest` and `AuthMoreData`.
 *
 * @module
 */
import { BodyWriter, Cursor } from "./packet.ts";

/** First byte of each generic response. */
export const Header = {
  OK: 0x00,
  AUTH_MORE: 0x01,
  EOF: 0xfe,
  AUTH_SWITCH: 0xfe,
  ERR: 0xff,
} as const;

/** An ERR packet. */
export interface ErrPacket {
  code: number;
  sqlstate: string;
  message: string;
}

/** Parse an ERR body (header byte included); protocol 4.1 form with `#` and SQLSTATE. */
export function parseErr(body: Uint8Array): ErrPacket {
  const c = new Cursor(body, 1);
  const code = c.u16("the error code");
  let sqlstate = "HY000";
  if (c.remaining > 0 && body[c.pos] === 0x23) {
    c.u8();
    // Always five characters, whatever bytes a peer puts there.
    sqlstate = String.fromCharCode(...c.take(5, "the SQLSTATE"));
  }
  return { code, sqlstate, message: new TextDecoder().decode(c.rest()) };
}

/** Encode an ERR body. */
export function encodeErr(e: ErrPacket): Uint8Array {
  return new BodyWriter().u8(Header.ERR).u16(e.code).u8(0x23)
    .bytes(new TextEncoder().encode(e.sqlstate.padEnd(5, "0").slice(0, 5)))
    .bytes(new TextEncoder().encode(e.message)).finish();
}

/** An OK body with no rows affected, carrying `status`. */
export function encodeOk(status = 0x0002): Uint8Array {
  return new BodyWriter().u8(Header.OK).u8(0).u8(0).u16(status).u16(0).finish();
}

/** An `AuthSwitchRequest`: the plugin to use and its data. */
export interface AuthSwitch {
  plugin: string;
  data: Uint8Array;
}

/** Parse an `AuthSwitchRequest` body (header byte included). */
export function parseAuthSwitch(body: Uint8Array): AuthSwitch {
  const c = new Cursor(body, 1);
  const plugin = c.cstring("the plugin name");
  let data = c.rest();
  if (data.length && data[data.length - 1] === 0) data = data.subarray(0, data.length - 1);
  return { plugin, data };
}

/** Server error codes hoop sends itself. */
export const ErrorCode = {
  /** ER_ACCESS_DENIED_ERROR */
  ACCESS_DENIED: 1045,
  /** ER_NOT_SUPPORTED_YET */
  NOT_SUPPORTED: 1235,
  /** ER_UNKNOWN_COM_ERROR */
  UNKNOWN_COMMAND: 1047,
  /** CR_CONN_HOST_ERROR, the client library's "cannot connect" */
  CONN_HOST: 2003,
  /** ER_HANDSHAKE_ERROR */
  HANDSHAKE: 1043,
} as const;

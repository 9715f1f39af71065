/**
 * The connection phase: the server's greeting (Handshake v10), the client's
 * `HandshakeResponse41` and `SSLRequest`, and the capability flags they
 * negotiate.
 *
 * @module
 */
import { BodyWriter, Cursor, MysqlProtocolError } from "./packet.ts";

/** Capability flags hoop looks at (the protocol's names, without the `CLIENT_` prefix). */
export const Capability = {
  LONG_PASSWORD: 0x1,
  FOUND_ROWS: 0x2,
  LONG_FLAG: 0x4,
  CONNECT_WITH_DB: 0x8,
  COMPRESS: 0x20,
  LOCAL_FILES: 0x80,
  PROTOCOL_41: 0x200,
  SSL: 0x800,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x10000,
  MULTI_RESULTS: 0x20000,
  PS_MULTI_RESULTS: 0x40000,
  PLUGIN_AUTH: 0x80000,
  CONNECT_ATTRS: 0x100000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
  SESSION_TRACK: 0x800000,
  DEPRECATE_EOF: 0x1000000,
  ZSTD_COMPRESSION: 0x4000000,
  QUERY_ATTRIBUTES: 0x8000000,
} as const;

/** Bytes a client's login messages may take before hoop refuses them. */
export const MAX_HANDSHAKE_BYTES = 64 * 1024;

/** The server's greeting. */
export interface Greeting {
  protocol: number;
  serverVersion: string;
  connectionId: number;
  /** The 20-byte scramble (both parts joined, without the trailing NUL). */
  scramble: Uint8Array;
  /** Lower 32 bits of the capabilities. */
  capabilities: number;
  /** MariaDB's extended capabilities (bytes 28..31 of the reserved area). */
  mariadbCapabilities: number;
  charset: number;
  status: number;
  authPlugin: string;
}

/** Parse a Handshake v10 body. */
export function parseGreeting(body: Uint8Array): Greeting {
  const c = new Cursor(body);
  const protocol = c.u8("the protocol version");
  if (protocol === 0xff) throw new MysqlProtocolError("the server refused the connection");
  if (protocol !== 10) throw new MysqlProtocolError(`protocol version ${protocol} is not 10`);
  const serverVersion = c.cstring("the server version");
  const connectionId = c.u32("the connection id");
  const part1 = c.take(8, "the scramble");
  c.u8();
  let capabilities = c.u16("the capabilities");
  let charset = 0, status = 0, authLen = 0, mariadbCapabilities = 0;
  let part2: Uint8Array = new Uint8Array(0);
  let authPlugin = "mysql_native_password";
  if (c.remaining > 0) {
    charset = c.u8("the charset");
    status = c.u16("the status");
    capabilities |= c.u16("the capabilities") << 16;
    capabilities >>>= 0;
    authLen = c.u8("the scramble length");
    c.take(6, "the reserved bytes");
    mariadbCapabilities = c.u32("the extended capabilities");
    if (capabilities & Capability.SECURE_CONNECTION) {
      const n = Math.max(13, authLen - 8);
      part2 = c.take(n, "the scramble");
      if (part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1);
    }
    if (capabilities & Capability.PLUGIN_AUTH) {
      const rest = c.rest();
      const nul = rest.indexOf(0);
      authPlugin = new TextDecoder().decode(nul < 0 ? rest : rest.subarray(0, nul));
    }
  }
  const scramble = new Uint8Array(part1.length + part2.length);
  scramble.set(part1);
  scramble.set(part2, part1.length);
  return {
    protocol,
    serverVersion,
    connectionId,
    scramble,
    capabilities,
    mariadbCapabilities,
    charset,
    status,
    authPlugin,
  };
}

/** Encode a Handshake v10 body. */
export function encodeGreeting(g: Greeting): Uint8Array {
  const w = new BodyWriter().u8(10).cstring(g.serverVersion).u32(g.connectionId);
  const s = g.scramble;
  w.bytes(s.subarray(0, 8)).u8(0);
  w.u16(g.capabilities & 0xffff).u8(g.charset).u16(g.status).u16(g.capabilities >>> 16);
  w.u8(g.capabilities & Capability.PLUGIN_AUTH ? s.length + 1 : 0);
  w.zeros(6).u32(g.mariadbCapabilities);
  if (g.capabilities & Capability.SECURE_CONNECTION) {
    const rest = s.subarray(8);
    w.bytes(rest).zeros(Math.max(1, 13 - rest.length));
  }
  if (g.capabilities & Capability.PLUGIN_AUTH) w.cstring(g.authPlugin);
  return w.finish();
}

/** The client's login (or, when only the first 32 bytes came, its `SSLRequest`). */
export interface HandshakeResponse {
  capabilities: number;
  maxPacket: number;
  charset: number;
  mariadbCapabilities: number;
  /** True for a 32-byte `SSLRequest`: TLS follows, then the full response. */
  sslRequest: boolean;
  user: string;
  authResponse: Uint8Array;
  database?: string;
  authPlugin?: string;
  attrs?: Uint8Array;
}

/** Parse a `HandshakeResponse41` (or `SSLRequest`) body. */
export function parseHandshakeResponse(body: Uint8Array): HandshakeResponse {
  const c = new Cursor(body);
  const capabilities = c.u32("the client capabilities");
  if (!(capabilities & Capability.PROTOCOL_41)) {
    throw new MysqlProtocolError("the client does not speak protocol 4.1");
  }
  const maxPacket = c.u32("the max packet size");
  const charset = c.u8("the charset");
  c.take(19, "the reserved bytes");
  const mariadbCapabilities = c.u32("the extended capabilities");
  const base = { capabilities, maxPacket, charset, mariadbCapabilities };
  if (c.remaining === 0) {
    return { ...base, sslRequest: true, user: "", authResponse: new Uint8Array(0) };
  }
  const user = c.cstring("the user name");
  let authResponse: Uint8Array;
  if (capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    authResponse = c.lenencBytes("the auth response") ?? new Uint8Array(0);
  } else if (capabilities & Capability.SECURE_CONNECTION) {
    authResponse = c.take(c.u8("the auth response length"), "the auth response");
  } else {
    const end = body.indexOf(0, c.pos);
    authResponse = c.take((end < 0 ? body.length : end) - c.pos);
    if (c.remaining) c.u8();
  }
  const out: HandshakeResponse = { ...base, sslRequest: false, user, authResponse };
  if (capabilities & Capability.CONNECT_WITH_DB && c.remaining) {
    out.database = c.cstring("the database");
  }
  if (capabilities & Capability.PLUGIN_AUTH && c.remaining) {
    out.authPlugin = c.cstring("the plugin");
  }
  if (capabilities & Capability.CONNECT_ATTRS && c.remaining) out.attrs = c.rest();
  return out;
}

/** Encode a `HandshakeResponse41`; with `sslRequest` only its 32-byte prefix. */
export function encodeHandshakeResponse(r: HandshakeResponse): Uint8Array {
  const w = new BodyWriter().u32(r.capabilities).u32(r.maxPacket).u8(r.charset).zeros(19)
    .u32(r.mariadbCapabilities);
  if (r.sslRequest) return w.finish();
  w.cstring(r.user);
  if (r.capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) w.lenencBytes(r.authResponse);
  else w.u8(r.authResponse.length).bytes(r.authResponse);
  if (r.capabilities & Capability.CONNECT_WITH_DB) w.cstring(r.database ?? "");
  if (r.capabilities & Capability.PLUGIN_AUTH) w.cstring(r.authPlugin ?? "");
  if (r.capabilities & Capability.CONNECT_ATTRS && r.attrs) w.bytes(r.attrs);
  return w.finish();
}

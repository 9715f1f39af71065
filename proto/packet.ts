/**
 * Control-plane packets: `Packet { type, spec, payload }` from `hoop.proto`,
 * with a small hand-written protobuf codec (three fields; no protobufjs or
 * proto-loader at run time, so `deno compile` needs no extra files).
 *
 * PROTOCOL_VERSION history:
 * - 1: first version (HELLO, WELCOME, HEARTBEAT, SESSION_OPEN, SESSION_FAILED,
 *   REVOKED, SHUTDOWN).
 *
 * @module
 */

/**
 * Version of the control protocol, sent in HELLO and checked by the gateway:
 * an agent speaking another version is refused with both versions named.
 */
export const PROTOCOL_VERSION = 1;

/** Largest encoded packet either side accepts (grpc-js receive limit). */
export const MAX_PACKET_BYTES = 4 * 1024 * 1024;

/** Interval of heartbeats in both directions. */
export const HEARTBEAT_INTERVAL_MS = 10_000;

/** Silence after which a control stream is considered dead. */
export const HEARTBEAT_TIMEOUT_MS = 30_000;

/**
 * Packet types. Direction, `spec` keys and payload of each:
 *
 * - `HELLO` agent→gateway. spec: `version`, `hostname`, `platform`,
 *   `protocol` ({@linkcode PROTOCOL_VERSION}); payload: JSON
 *   `{ connection: PublishedConnection }` for embedded agents, empty for
 *   standard ones. Built and checked in proto/hello.ts.
 * - `WELCOME` gateway→agent. spec: `agent_id`, `agent_name`, `data_addr`
 *   (`host:port` of the data port), `data_tls` (`1` when TLS), and
 *   `warm_key` (base64url; absent from older gateways): the key this stream's
 *   warm data connections park under (proto/data_header.ts side 3).
 * - `HEARTBEAT` both ways. No spec, no payload.
 * - `SESSION_OPEN` gateway→agent. spec: `sid`, `ticket` (base64url),
 *   `connection`, `type` (postgres | tcp | command), `verb` (connect | exec |
 *   console), `cols` and `rows` (consoles); payload: JSON of the connection's
 *   config (standard agents only).
 * - `SESSION_FAILED` agent→gateway. spec: `sid`, `message`.
 * - `REVOKED` gateway→agent. spec: `reason`. The gateway then ends the stream.
 * - `SHUTDOWN` gateway→agent. spec: `reason`. The agent reconnects later.
 */
export const PacketType = {
  HELLO: "HELLO",
  WELCOME: "WELCOME",
  HEARTBEAT: "HEARTBEAT",
  SESSION_OPEN: "SESSION_OPEN",
  SESSION_FAILED: "SESSION_FAILED",
  REVOKED: "REVOKED",
  SHUTDOWN: "SHUTDOWN",
} as const;

/** One of {@linkcode PacketType}. */
export type PacketType = typeof PacketType[keyof typeof PacketType];

/** A control-plane message. */
export interface Packet {
  type: string;
  spec: Record<string, Uint8Array>;
  payload: Uint8Array;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Build a packet from string spec values and an optional JSON or byte payload. */
export function makePacket(
  type: PacketType,
  spec: Record<string, string | undefined> = {},
  payload?: Uint8Array | unknown,
): Packet {
  const s: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(spec)) if (v !== undefined) s[k] = enc.encode(v);
  let p: Uint8Array;
  if (payload === undefined) p = new Uint8Array(0);
  else if (payload instanceof Uint8Array) p = payload;
  else p = enc.encode(JSON.stringify(payload));
  return { type, spec: s, payload: p };
}

/** Read a spec value as text; `undefined` when absent. */
export function specString(p: Packet, key: string): string | undefined {
  const v = Object.hasOwn(p.spec, key) ? p.spec[key] : undefined;
  return v === undefined ? undefined : dec.decode(v);
}

/** Read a JSON payload; `undefined` when the payload is empty. */
export function payloadJson<T>(p: Packet): T | undefined {
  if (p.payload.length === 0) return undefined;
  return JSON.parse(dec.decode(p.payload)) as T;
}

// --- protobuf wire codec -------------------------------------------------
// Field 1 type (string), 2 spec (map<string,bytes> = repeated entry{1 key,2 value}),
// 3 payload (bytes). All length-delimited (wire type 2).

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

function fieldSize(len: number): number {
  return 1 + varintSize(len) + len;
}

/** Encode a packet as protobuf bytes compatible with `hoop.proto`. */
export function encodePacket(p: Packet): Uint8Array {
  const type = enc.encode(p.type);
  const entries: { key: Uint8Array; value: Uint8Array; size: number }[] = [];
  let total = type.length ? fieldSize(type.length) : 0;
  for (const [k, v] of Object.entries(p.spec)) {
    const key = enc.encode(k);
    const size = fieldSize(key.length) + fieldSize(v.length);
    entries.push({ key, value: v, size });
    total += fieldSize(size);
  }
  if (p.payload.length) total += fieldSize(p.payload.length);
  const out = new Uint8Array(total);
  let pos = 0;
  if (type.length) {
    out[pos++] = (1 << 3) | 2;
    pos = writeVarint(out, pos, type.length);
    out.set(type, pos);
    pos += type.length;
  }
  for (const e of entries) {
    out[pos++] = (2 << 3) | 2;
    pos = writeVarint(out, pos, e.size);
    out[pos++] = (1 << 3) | 2;
    pos = writeVarint(out, pos, e.key.length);
    out.set(e.key, pos);
    pos += e.key.length;
    out[pos++] = (2 << 3) | 2;
    pos = writeVarint(out, pos, e.value.length);
    out.set(e.value, pos);
    pos += e.value.length;
  }
  if (p.payload.length) {
    out[pos++] = (3 << 3) | 2;
    pos = writeVarint(out, pos, p.payload.length);
    out.set(p.payload, pos);
    pos += p.payload.length;
  }
  return out;
}

/** Thrown for bytes that are not a valid Packet. */
export class PacketDecodeError extends Error {
  constructor(message: string) {
    super(`Cannot decode packet: ${message}`);
    this.name = "PacketDecodeError";
  }
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly end = buf.length) {}
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new PacketDecodeError("truncated varint");
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new PacketDecodeError("varint too long");
  }
  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.end) throw new PacketDecodeError("truncated field");
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.bytes();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else throw new PacketDecodeError(`unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new PacketDecodeError("truncated field");
  }
}

/** Decode protobuf bytes into a packet; unknown fields are skipped. */
export function decodePacket(buf: Uint8Array): Packet {
  const r = new Reader(buf);
  const p: Packet = { type: "", spec: {}, payload: new Uint8Array(0) };
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) p.type = dec.decode(r.bytes());
    else if (field === 3 && wire === 2) p.payload = r.bytes().slice();
    else if (field === 2 && wire === 2) {
      const entry = r.bytes();
      const er = new Reader(entry);
      let key = "";
      let value = new Uint8Array(0);
      while (er.pos < er.end) {
        const t = er.varint();
        const f = Math.floor(t / 8);
        if (f === 1 && (t & 7) === 2) key = dec.decode(er.bytes());
        else if (f === 2 && (t & 7) === 2) value = er.bytes().slice();
        else er.skip(t & 7);
      }
      p.spec[key] = value;
    } else r.skip(wire);
  }
  return p;
}

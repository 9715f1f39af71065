/**
 * The one startup negotiation of hoop's PostgreSQL front ends: `hoop
 * connect`'s local port, the gateway's PostgreSQL listener and the agent.
 * Each reads the client's untyped packets, answers its encryption requests,
 * and gets back what the client opened with (a `StartupMessage` or a
 * `CancelRequest`) together with the packet's raw bytes, so that a hop which
 * passes the packet on forwards it as received instead of re-encoding it.
 *
 * @module
 */
import { type ByteReader, type ByteWriter, concatBytes, readFull, writeAll } from "../bytes.ts";
import { HoopError } from "../errors.ts";
import { MAX_STARTUP_PACKET_BYTES, parseStartupBody, type StartupPacket } from "./codec.ts";

/**
 * How many SSL/GSS encryption requests a client may send before its startup
 * (libpq sends at most one of each); one more is refused as `invalid_argument`.
 */
export const MAX_ENCRYPTION_REQUESTS = 2;

/** One untyped packet and the bytes it was read from (length included). */
export interface RawStartupPacket {
  packet: StartupPacket;
  raw: Uint8Array;
}

/**
 * Read one untyped startup-phase packet. Reads exactly the packet, never past
 * it, so nothing is lost when the caller hands the conn on. Resolves `null`
 * when the client closed before sending anything.
 */
export async function readStartupPacket(conn: ByteReader): Promise<RawStartupPacket | null> {
  const head = await readFull(conn, 4, "PostgreSQL startup packet");
  if (!head) return null;
  return await readStartupRest(conn, head);
}

/**
 * The first byte of a TLS record carrying a handshake: a client that opens
 * with it is starting TLS at once (PostgreSQL 17's `sslnegotiation=direct`)
 * instead of sending a startup packet, whose first byte (of a length below
 * {@linkcode MAX_STARTUP_PACKET_BYTES}) is always 0.
 */
export const TLS_HANDSHAKE_RECORD_BYTE = 0x16;

/**
 * {@linkcode readStartupPacket} for a caller that has already read the
 * packet's 4-byte length `head` (to look for {@linkcode TLS_HANDSHAKE_RECORD_BYTE}).
 */
export async function readStartupRest(
  conn: ByteReader,
  head: Uint8Array,
): Promise<RawStartupPacket> {
  const len = new DataView(head.buffer, head.byteOffset, 4).getInt32(0);
  if (len < 8 || len > MAX_STARTUP_PACKET_BYTES) {
    throw new HoopError(
      "invalid_argument",
      `Cannot read PostgreSQL startup packet: its length ${len} is outside 8..${MAX_STARTUP_PACKET_BYTES} bytes`,
    );
  }
  const body = await readFull(conn, len - 4, "PostgreSQL startup packet");
  if (!body) {
    throw new Deno.errors.UnexpectedEof("Cannot read PostgreSQL startup packet: the stream ended");
  }
  return { packet: parseStartupBody(body), raw: concatBytes([head, body]) };
}

/** {@linkcode readStartupPacket} without the raw bytes. */
export async function readStartup(conn: ByteReader): Promise<StartupPacket | null> {
  return (await readStartupPacket(conn))?.packet ?? null;
}

/** The answer to an encryption request: `N`, go on in the clear. */
export type EncryptionAnswer = "N";

/** Options of {@linkcode negotiateStartup}. */
export interface NegotiateStartupOptions {
  /**
   * The answer to each `SSLRequest`/`GSSENCRequest`; default `N`. Every
   * caller refuses: the agent's and `hoop connect`'s hops ride inside hoop's
   * data connection. The gateway's listener, which does TLS, runs its own
   * negotiation (`gateway/postgres/listener_startup.ts`).
   */
  answerEncryption?(kind: "ssl" | "gssenc"): EncryptionAnswer;
}

/** What a client opened with, once its encryption requests are answered. */
export interface ClientStartup {
  packet: Extract<StartupPacket, { kind: "startup" | "cancel" }>;
  /** The packet exactly as the client sent it, to forward without re-encoding. */
  raw: Uint8Array;
}

/**
 * Answer a client's encryption requests and read its `StartupMessage` or
 * `CancelRequest`. Resolves `null` when the client closed first; throws
 * `invalid_argument` for a malformed packet or more than
 * {@linkcode MAX_ENCRYPTION_REQUESTS} encryption requests.
 */
export async function negotiateStartup(
  conn: ByteReader & ByteWriter,
  opts: NegotiateStartupOptions = {},
): Promise<ClientStartup | null> {
  for (let requests = 0;; requests++) {
    const got = await readStartupPacket(conn);
    if (!got) return null;
    const { packet, raw } = got;
    if (packet.kind === "startup" || packet.kind === "cancel") return { packet, raw };
    if (requests >= MAX_ENCRYPTION_REQUESTS) {
      throw new HoopError(
        "invalid_argument",
        "Cannot start PostgreSQL session: too many encryption requests",
      );
    }
    const answer = opts.answerEncryption?.(packet.kind) ?? "N";
    await writeAll(conn, new TextEncoder().encode(answer));
  }
}

/**
 * The HELLO packet: the first thing an agent says on its control stream, and
 * the only text the gateway takes from it for display (version, hostname,
 * platform) plus, for embedded agents, the one connection they publish.
 *
 * Everything here arrives from a remote process, so {@linkcode parseHello}
 * refuses a malformed HELLO with a typed error (the gateway then ends that
 * stream with a reason) and makes every displayed value printable and short.
 *
 * @module
 */
import { HoopError, invalidArgument } from "./errors.ts";
import { makePacket, type Packet, PacketType, PROTOCOL_VERSION, specString } from "./packet.ts";
import { printable } from "./printable.ts";

/** Longest version, hostname or platform kept from a HELLO (longer ones are cut). */
export const MAX_HELLO_TEXT_CHARS = 128;

/** Longest config value an embedded agent may publish (display only; secrets stay on it). */
export const MAX_PUBLISHED_CONFIG_CHARS = 1024;

/** Most config entries an embedded agent may publish. */
export const MAX_PUBLISHED_CONFIG_ENTRIES = 32;

/** Connection types an agent may publish. */
export const PUBLISHABLE_TYPES = ["postgres", "mysql", "tcp", "command"] as const;

/** What an embedded agent publishes in HELLO. Secrets stay on the agent. */
export interface PublishedConnection {
  name: string;
  type: typeof PUBLISHABLE_TYPES[number];
  /** Redacted config, for display. */
  config: Record<string, string>;
}

/** An agent's HELLO, as sent and as checked. */
export interface Hello {
  version: string;
  hostname: string;
  platform: string;
  /** The control protocol the agent speaks ({@linkcode PROTOCOL_VERSION}). */
  protocol: number;
  connection?: PublishedConnection;
}

/** The HELLO packet for `hello`. */
export function helloPacket(hello: Hello): Packet {
  return makePacket(PacketType.HELLO, {
    version: hello.version,
    hostname: hello.hostname,
    platform: hello.platform,
    protocol: String(hello.protocol),
  }, hello.connection ? { connection: hello.connection } : undefined);
}

/**
 * Check a HELLO from a remote agent. Throws `failed_precondition` when its
 * protocol version is not this side's (naming both), `invalid_argument` for
 * anything malformed. Displayed text comes back printable and cut to
 * {@linkcode MAX_HELLO_TEXT_CHARS}.
 */
export function parseHello(p: Packet): Hello {
  if (p.type !== PacketType.HELLO) throw invalidArgument("expected HELLO as the first packet");
  const protocolText = specString(p, "protocol") ?? "";
  const protocol = /^[0-9]{1,6}$/.test(protocolText) ? Number(protocolText) : NaN;
  if (protocol !== PROTOCOL_VERSION) {
    const theirs = Number.isNaN(protocol)
      ? `an unreadable control protocol version ("${printable(protocolText, 16)}")`
      : `control protocol version ${protocol}`;
    throw new HoopError(
      "failed_precondition",
      `Cannot register agent: it speaks ${theirs}, this gateway speaks version ${PROTOCOL_VERSION}`,
      { hint: "run the same hoop version on the agent and the gateway" },
    );
  }
  const text = (key: string) => printable(specString(p, key) ?? "unknown", MAX_HELLO_TEXT_CHARS);
  const hello: Hello = {
    version: text("version"),
    hostname: text("hostname"),
    platform: text("platform"),
    protocol,
  };
  if (p.payload.length > 0) hello.connection = parsePublished(p.payload);
  return hello;
}

function parsePublished(payload: Uint8Array): PublishedConnection | undefined {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    throw invalidArgument("Cannot read HELLO: its payload is not valid JSON");
  }
  if (typeof body !== "object" || body === null) {
    throw invalidArgument("Cannot read HELLO: its payload is not a JSON object");
  }
  const c = (body as { connection?: unknown }).connection;
  if (c === undefined) return undefined;
  if (typeof c !== "object" || c === null) {
    throw invalidArgument("Cannot read HELLO: the published connection is not an object");
  }
  const { name, type, config } = c as Record<string, unknown>;
  if (typeof name !== "string") {
    throw invalidArgument("Cannot read HELLO: the published connection has no name");
  }
  if (!PUBLISHABLE_TYPES.includes(type as PublishedConnection["type"])) {
    throw invalidArgument(
      `Cannot read HELLO: connection type "${printable(String(type), 32)}" is not one of ${
        PUBLISHABLE_TYPES.join(", ")
      }`,
    );
  }
  const out: Record<string, string> = {};
  if (config !== undefined) {
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
      throw invalidArgument("Cannot read HELLO: the published config is not an object");
    }
    const entries = Object.entries(config);
    if (entries.length > MAX_PUBLISHED_CONFIG_ENTRIES) {
      throw invalidArgument(
        `Cannot read HELLO: the published config has ${entries.length} entries, more than ${MAX_PUBLISHED_CONFIG_ENTRIES}`,
      );
    }
    for (const [k, v] of entries) {
      if (typeof v !== "string") {
        throw invalidArgument("Cannot read HELLO: a published config value is not a string");
      }
      out[printable(k, 64)] = printable(v, MAX_PUBLISHED_CONFIG_CHARS);
    }
  }
  return { name, type: type as PublishedConnection["type"], config: out };
}

/**
 * The `HOOP_KEY` format: a DSN naming the gateway and carrying an agent's key.
 *
 * ```
 * <scheme>://<name>:<auth-key>@<host>:<port>?mode=<standard|embedded>
 * grpcs://dev:xagt-mzv7CRgUs23TgHpk0XNmll0TO37qfwM0D3JGQpwGPa8@use.hoop.dev:8443?mode=standard
 * ```
 *
 * The parser is hand-written rather than `new URL()`, which percent-decodes,
 * accepts stray paths and would need the auth key kept out of its error
 * messages. Every rejection is a {@linkcode DsnError} whose message starts
 * with `Invalid HOOP_KEY: ` and never contains the auth key.
 *
 * @module
 */
import { HoopError } from "./errors.ts";
import { decodeBase64Url } from "./base64.ts";
import { AGENT_KEY_PREFIX, SECRET_BYTES } from "./keys.ts";
import { portNumber } from "./host_port.ts";
import { redact } from "./redact.ts";

/** Transport schemes; the `s` forms use TLS. `http(s)` are aliases of `grpc(s)`. */
export type DsnScheme = "grpc" | "grpcs" | "http" | "https";
/** Agent modes: `standard` (`hoop start agent`) or `embedded` (`hoop run`). */
export type DsnMode = "standard" | "embedded";

/** A parsed `HOOP_KEY`. */
export interface Dsn {
  scheme: DsnScheme;
  /** The key's name (an agent name). */
  name: string;
  /** The auth key, `xagt-...`. Secret. */
  key: string;
  /** Host name or IP address; IPv6 without brackets. */
  host: string;
  port: number;
  mode: DsnMode;
  /** True for `grpcs` and `https`. */
  tls: boolean;
}

/** The schemes a DSN may use, in the order error messages list them. */
export const DSN_SCHEMES: readonly DsnScheme[] = ["grpc", "grpcs", "http", "https"];
/** The modes a DSN may carry. */
export const DSN_MODES: readonly DsnMode[] = ["standard", "embedded"];

/** Names of agents, connections and keys: a DNS label, case-insensitive. */
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

const NAME_RULE =
  "use letters, digits and hyphens (at most 63), starting and ending with a letter or digit";

/**
 * Throw a `HoopError` (`invalid_argument`) unless `name` matches
 * {@linkcode NAME_PATTERN}. `kind` names the thing in the message:
 * `Invalid agent name "a_b": use letters, ...`.
 */
export function validateName(kind: string, name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new HoopError("invalid_argument", `Invalid ${kind} name ${quote(name)}: ${NAME_RULE}`);
  }
}

/** Which part of a DSN was malformed; stable, for tests and callers that branch. */
export type DsnErrorPart =
  | "empty"
  | "scheme"
  | "name"
  | "key"
  | "host"
  | "port"
  | "path"
  | "mode"
  | "query";

/** A malformed `HOOP_KEY`. The message never contains the auth key. */
export class DsnError extends HoopError {
  readonly part: DsnErrorPart;

  constructor(part: DsnErrorPart, detail: string, hint?: string) {
    super("invalid_argument", `Invalid HOOP_KEY: ${detail}`, hint ? { hint } : undefined);
    this.name = "DsnError";
    this.part = part;
  }
}

const SHAPE_HINT =
  "a HOOP_KEY looks like <scheme>://<name>:<auth-key>@<host>:<port>?mode=<standard|embedded>";
const KEY_BODY_CHARS = Math.ceil((SECRET_BYTES * 4) / 3);
const HOST_PATTERN = /^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/i;
const IPV6_PATTERN = /^[0-9a-f:.]+(%[a-z0-9_.-]+)?$/i;
const MAX_ECHO_CHARS = 80;

/**
 * Quote a user-supplied fragment for an error message: JSON-quoted, any
 * `xagt-` key replaced, and cut short so a pasted blob cannot flood a terminal.
 */
function quote(text: string): string {
  let s = redactDsn(text);
  if (s.length > MAX_ECHO_CHARS) s = s.slice(0, MAX_ECHO_CHARS) + "...";
  return JSON.stringify(s);
}

/** Parse a `HOOP_KEY`. Throws {@linkcode DsnError} naming the malformed part. */
export function parseDsn(text: string): Dsn {
  const input = text.trim();
  if (input === "") throw new DsnError("empty", "the value is empty", SHAPE_HINT);

  const sep = input.indexOf("://");
  const schemes = DSN_SCHEMES.join(", ");
  if (sep < 0) {
    throw new DsnError("scheme", `missing the scheme: expected one of ${schemes}`, SHAPE_HINT);
  }
  const scheme = input.slice(0, sep).toLowerCase();
  if (!(DSN_SCHEMES as readonly string[]).includes(scheme)) {
    throw new DsnError("scheme", `unknown scheme ${quote(scheme)}: expected one of ${schemes}`);
  }
  const rest = input.slice(sep + 3);

  // Names and keys never contain "@", so the first "@" ends the user info,
  // even when a malformed key holds "/" or "?" (standard base64).
  const at = rest.indexOf("@");
  if (at < 0) {
    throw new DsnError("key", "missing the name and auth key before the host", SHAPE_HINT);
  }
  const userInfo = rest.slice(0, at);
  const queryAt = rest.indexOf("?", at);
  const hostPart = queryAt < 0 ? rest.slice(at + 1) : rest.slice(at + 1, queryAt);
  const query = queryAt < 0 ? undefined : rest.slice(queryAt + 1);

  const colon = userInfo.indexOf(":");
  const name = colon < 0 ? userInfo : userInfo.slice(0, colon);
  const key = colon < 0 ? "" : userInfo.slice(colon + 1);
  if (name === "") throw new DsnError("name", "the name is empty");
  if (!NAME_PATTERN.test(name)) {
    throw new DsnError("name", `invalid name ${quote(name)}: ${NAME_RULE}`);
  }
  if (key === "") throw new DsnError("key", `missing the auth key after the name ${quote(name)}`);
  if (!key.startsWith(AGENT_KEY_PREFIX)) {
    throw new DsnError("key", `the auth key does not start with "${AGENT_KEY_PREFIX}"`);
  }
  if (!isKeyBody(key.slice(AGENT_KEY_PREFIX.length))) {
    throw new DsnError(
      "key",
      `the auth key is not "${AGENT_KEY_PREFIX}" followed by ${KEY_BODY_CHARS} base64url characters (${SECRET_BYTES} bytes)`,
    );
  }

  const { host, port, path } = splitHostPort(hostPart);
  if (path !== "" && path !== "/") {
    throw new DsnError("path", `unexpected path ${quote(path)} after the port`);
  }
  const mode = parseQuery(query);
  return {
    scheme: scheme as DsnScheme,
    name,
    key,
    host,
    port,
    mode,
    tls: scheme === "grpcs" || scheme === "https",
  };
}

function isKeyBody(body: string): boolean {
  if (body.length !== KEY_BODY_CHARS) return false;
  try {
    return decodeBase64Url(body).length === SECRET_BYTES;
  } catch {
    return false;
  }
}

function splitHostPort(text: string): { host: string; port: number; path: string } {
  let host: string;
  let after: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) throw new DsnError("host", `unclosed "[" in the host ${quote(text)}`);
    host = text.slice(1, close);
    after = text.slice(close + 1);
    if (host === "") throw new DsnError("host", "missing the host");
    if (!IPV6_PATTERN.test(host) || !host.includes(":")) {
      throw new DsnError("host", `invalid IPv6 address ${quote(host)}`);
    }
  } else {
    const end = text.search(/[:/]/);
    host = end < 0 ? text : text.slice(0, end);
    after = end < 0 ? "" : text.slice(end);
    if (host === "") throw new DsnError("host", "missing the host");
    if (!HOST_PATTERN.test(host)) {
      throw new DsnError(
        "host",
        `invalid host ${quote(host)}: expected a host name or IP address (IPv6 in brackets)`,
      );
    }
  }
  if (!after.startsWith(":")) {
    throw new DsnError("port", `missing the port after the host ${quote(host)}`);
  }
  const slash = after.indexOf("/");
  const portText = slash < 0 ? after.slice(1) : after.slice(1, slash);
  const path = slash < 0 ? "" : after.slice(slash);
  if (portText === "") throw new DsnError("port", `missing the port after the host ${quote(host)}`);
  const port = portNumber(portText);
  if (port === undefined) {
    throw new DsnError(
      "port",
      `invalid port ${quote(portText)}: expected a number from 1 to 65535`,
    );
  }
  return { host, port, path };
}

function parseQuery(query: string | undefined): DsnMode {
  let mode: DsnMode | undefined;
  if (query === undefined || query === "") return "standard";
  for (const param of query.split("&")) {
    if (param === "") continue;
    const eq = param.indexOf("=");
    const k = eq < 0 ? param : param.slice(0, eq);
    const v = eq < 0 ? "" : param.slice(eq + 1);
    if (k !== "mode") {
      throw new DsnError("query", `unknown parameter ${quote(k)}: the only parameter is "mode"`);
    }
    if (mode !== undefined) throw new DsnError("query", `the parameter "mode" is given twice`);
    if (!(DSN_MODES as readonly string[]).includes(v)) {
      throw new DsnError("mode", `unknown mode ${quote(v)}: expected ${DSN_MODES.join(" or ")}`);
    }
    mode = v as DsnMode;
  }
  return mode ?? "standard";
}

/**
 * Format a DSN, bracketing IPv6 hosts. The result is checked with
 * {@linkcode parseDsn}, so a bad field throws a {@linkcode DsnError}.
 */
export function formatDsn(dsn: Omit<Dsn, "tls">): string {
  const host = dsn.host.includes(":") ? `[${dsn.host}]` : dsn.host;
  const text = `${dsn.scheme}://${dsn.name}:${dsn.key}@${host}:${dsn.port}?mode=${dsn.mode}`;
  parseDsn(text);
  return text;
}

/**
 * Hide the auth key in text that may hold a DSN: `xagt-...` becomes
 * `xagt-***`, and whatever sits in a DSN's password slot becomes `***` even
 * when it lacks the prefix. Never throws; safe on any string.
 */
export function redactDsn(text: string): string {
  return redact(text, { keepKeyPrefix: true });
}

/** The gRPC target of a DSN: `host:port`, IPv6 hosts in brackets. */
export function grpcTarget(dsn: Dsn): string {
  return dsn.host.includes(":") ? `[${dsn.host}]:${dsn.port}` : `${dsn.host}:${dsn.port}`;
}

/**
 * `host:port` addresses as flags and environment variables spell them
 * (`0.0.0.0:8010`, `[::1]:8010`, `:8010`).
 *
 * @module
 */
import { invalidArgument } from "./errors.ts";

/** A parsed listen or dial address. */
export interface HostPort {
  hostname: string;
  port: number;
}

/**
 * The port that `text` spells (decimal digits only, 1 to 65535, or 0 when
 * `allowZero`), or `undefined`: every port in hoop is read through here, and
 * each caller words its own refusal.
 */
export function portNumber(text: string, opts: { allowZero?: boolean } = {}): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  if (port > 65535 || (port === 0 && !opts.allowZero)) return undefined;
  return port;
}

/**
 * Parse `host:port`. An empty host means `defaultHost`; port 0 is allowed
 * (pick a free one) only when `allowZero` is set.
 */
export function parseHostPort(
  text: string,
  opts: { what: string; defaultHost?: string; allowZero?: boolean } = { what: "address" },
): HostPort {
  // No white space or control characters inside: no host has them, and they would reach log lines.
  const m = /^(?:\[([^[\]\s\p{Cc}]+)\]|([^:[\]\s\p{Cc}]*)):(\d{1,5})$/u.exec(text.trim());
  if (!m) {
    throw invalidArgument(
      `Invalid ${opts.what} "${text}": use HOST:PORT, for example 127.0.0.1:8010`,
    );
  }
  const port = portNumber(m[3], opts);
  if (port === undefined) {
    throw invalidArgument(`Invalid ${opts.what} "${text}": the port must be from 1 to 65535`);
  }
  const hostname = m[1] ?? (m[2] || opts.defaultHost || "0.0.0.0");
  return { hostname, port };
}

/** Format an address, bracketing IPv6 hosts. */
export function formatHostPort(addr: HostPort): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

/** The address clients should dial for a listener: `127.0.0.1` stands in for `0.0.0.0`. */
export function dialableAddr(addr: HostPort): HostPort {
  if (addr.hostname === "0.0.0.0") return { hostname: "127.0.0.1", port: addr.port };
  if (addr.hostname === "::" || addr.hostname === "[::]") {
    return { hostname: "::1", port: addr.port };
  }
  return addr;
}

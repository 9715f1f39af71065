/**
 * Secrets of hoop: agent keys (`xagt-`), user tokens (`xtok-`), data-plane
 * tickets, their hashes and constant-time comparison. They are written in
 * base64url ({@linkcode ./base64.ts}).
 *
 * The gateway stores only {@linkcode sha256Hex} of keys and tokens and compares
 * hashes with {@linkcode timingSafeEqual}.
 *
 * @module
 */

import { encodeBase64Url } from "./base64.ts";

/** Prefix of agent keys. */
export const AGENT_KEY_PREFIX = "xagt-";
/** Prefix of user tokens. */
export const TOKEN_PREFIX = "xtok-";
/** Random bytes behind every key, token and ticket (256 bits). */
export const SECRET_BYTES = 32;

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** A new agent key: `xagt-` + base64url of 32 random bytes (43 characters). */
export function generateAgentKey(): string {
  return AGENT_KEY_PREFIX + encodeBase64Url(randomBytes(SECRET_BYTES));
}

/** A new user token: `xtok-` + base64url of 32 random bytes (43 characters). */
export function generateToken(): string {
  return TOKEN_PREFIX + encodeBase64Url(randomBytes(SECRET_BYTES));
}

/** A new one-time data-plane ticket: 32 random bytes. */
export function generateTicket(): Uint8Array {
  return randomBytes(SECRET_BYTES);
}

const encoder = new TextEncoder();

function toBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === "string" ? encoder.encode(v) : v;
}

/** Lower-case hex SHA-256 of text (as UTF-8) or bytes, via WebCrypto. */
export async function sha256Hex(text: string | Uint8Array): Promise<string> {
  const bytes = toBytes(text);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Compare two secrets in time that depends only on their lengths, never on
 * where they first differ. Strings compare as UTF-8. Lengths may leak, which
 * is why callers compare fixed-size hashes.
 */
export function timingSafeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = toBytes(a);
  const y = toBytes(b);
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

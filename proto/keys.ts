/**
 * Secrets of hoop: agent keys (`xagt-`), user tokens (`xtok-`), data-plane
 * tickets, their hashes and constant-time comparison, plus the base64url codec
 * they are written in (no `@std/encoding`: JSR is out of reach).
 *
 * The gateway stores only {@linkcode sha256Hex} of keys and tokens and compares
 * hashes with {@linkcode timingSafeEqual}.
 *
 * @module
 */

/** Prefix of agent keys. */
export const AGENT_KEY_PREFIX = "xagt-";
/** Prefix of user tokens. */
export const TOKEN_PREFIX = "xtok-";
/** Random bytes behind every key, token and ticket (256 bits). */
export const SECRET_BYTES = 32;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const DECODE_TABLE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE_TABLE[ALPHABET.charCodeAt(i)] = i;

/** Encode bytes as base64url without padding (RFC 4648 §5). */
export function encodeBase64Url(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] +
      ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63];
  }
  return out;
}

/**
 * Decode base64url text (padding optional). Strict, so that one byte string
 * has exactly one spelling: throws `TypeError` on characters outside the
 * alphabet, an impossible length, or non-zero trailing bits. The message never
 * repeats the input, which may be a secret.
 */
export function decodeBase64Url(text: string): Uint8Array {
  let end = text.length;
  // At most two "=" of padding, and only where the length calls for them.
  if (end % 4 === 0 && end > 0 && text[end - 1] === "=") {
    end--;
    if (text[end - 1] === "=") end--;
  }
  if (end % 4 === 1) {
    throw new TypeError("Cannot decode base64url: the length is not valid");
  }
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let bits = 0;
  let acc = 0;
  let pos = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? DECODE_TABLE[c] : -1;
    if (v < 0) {
      throw new TypeError(
        `Cannot decode base64url: character at index ${i} is outside the alphabet`,
      );
    }
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[pos++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) {
    throw new TypeError("Cannot decode base64url: the last character has unused bits set");
  }
  return out;
}

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

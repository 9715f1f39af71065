/**
 * The one base64 codec of hoop (no `@std/encoding`: JSR is out of reach).
 * Keys, tokens and tickets use strict base64url; password hashes, the secret
 * key file and binary audit events use standard base64.
 *
 * @module
 */

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
export function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> {
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

/** Encode bytes as standard padded base64 (RFC 4648 §4). */
export function encodeBase64(bytes: Uint8Array): string {
  const url = encodeBase64Url(bytes).replaceAll("-", "+").replaceAll("_", "/");
  return url + "=".repeat((4 - (url.length % 4)) % 4);
}

/**
 * Decode standard base64 or base64url, padded or not, surrounding white space
 * ignored. Throws `TypeError` on anything else (never echoing the input).
 */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(t)) {
    throw new TypeError("Cannot decode base64: a character is outside the alphabet");
  }
  const url = t.replaceAll("+", "-").replaceAll("/", "_");
  return decodeBase64Url(url);
}

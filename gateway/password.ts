/**
 * Password hashing for local accounts: PBKDF2-HMAC-SHA256 through WebCrypto,
 * encoded as `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>` so the
 * iteration count can rise later without breaking stored hashes.
 *
 * @module
 */
import { decodeBase64, encodeBase64 } from "../proto/base64.ts";

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256; about 0.2 s here. */
export const PBKDF2_ITERATIONS = 210_000;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Refuse absurd counts in stored hashes: verifying must not become a CPU sink. */
const MAX_ITERATIONS = 10_000_000;
const SCHEME = "pbkdf2-sha256";

async function derive(password: string, salt: Uint8Array, iterations: number, bytes: number) {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(salt), iterations },
    key,
    bytes * 8,
  );
  return new Uint8Array(bits);
}

/** Hash a password with a fresh random salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, PBKDF2_ITERATIONS, HASH_BYTES);
  return `${SCHEME}$${PBKDF2_ITERATIONS}$${encodeBase64(salt)}$${encodeBase64(hash)}`;
}

/** Compare without an early exit so timing does not tell how many bytes matched. */
function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** True when `password` matches the `encoded` hash; false for a malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split("$");
  if (parts.length !== 4 || parts[0] !== SCHEME) return false;
  const iterations = Number(parts[1]);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    return false;
  }
  let salt: Uint8Array, want: Uint8Array;
  try {
    salt = decodeBase64(parts[2]);
    want = decodeBase64(parts[3]);
  } catch {
    return false;
  }
  if (want.length === 0) return false;
  const got = await derive(password, salt, iterations, want.length);
  return timingSafeEqual(got, want);
}

/** A random one-time password: 15 random bytes as 20 base64url characters. */
export function generatePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(15));
  return encodeBase64(bytes).replaceAll("+", "-").replaceAll("/", "_");
}

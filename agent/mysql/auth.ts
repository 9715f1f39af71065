/**
 * The answers to the server's authentication challenges, per plugin:
 * `mysql_native_password` (SHA-1), `caching_sha2_password` (SHA-256, and the
 * RSA-encrypted full authentication) and MariaDB's `client_ed25519`.
 *
 * MariaDB's ed25519 is not RFC 8032 signing with a 32-byte seed: the secret
 * scalar and nonce prefix come from SHA-512 of the whole password, of any
 * length, so Node's Ed25519 keys cannot be used; the signature is computed
 * here with the curve's arithmetic in BigInt (only at login, so speed does
 * not matter; the password is the only secret and is never timed against).
 *
 * @module
 */
import { constants, createHash, publicEncrypt } from "node:crypto";

const enc = new TextEncoder();

function hash(alg: string, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i % b.length];
  return out;
}

/** `mysql_native_password`: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))); empty for no password. */
export function nativePassword(password: string, scramble: Uint8Array): Uint8Array {
  if (password === "") return new Uint8Array(0);
  const p1 = hash("sha1", enc.encode(password));
  const p2 = hash("sha1", p1);
  return xor(p1, hash("sha1", scramble.subarray(0, 20), p2));
}

/** `caching_sha2_password` fast path: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble). */
export function cachingSha2Password(password: string, scramble: Uint8Array): Uint8Array {
  if (password === "") return new Uint8Array(0);
  const p1 = hash("sha256", enc.encode(password));
  const p2 = hash("sha256", p1);
  return xor(p1, hash("sha256", p2, scramble.subarray(0, 20)));
}

/** The full authentication's password for a plain connection: RSA-OAEP of (pw NUL) XOR scramble. */
export function rsaEncryptedPassword(
  password: string,
  scramble: Uint8Array,
  publicKeyPem: string,
): Uint8Array {
  const clear = xor(enc.encode(password + "\0"), scramble.subarray(0, 20));
  return new Uint8Array(
    publicEncrypt({ key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING }, clear),
  );
}

// Curve25519 in twisted Edwards form: -x² + y² = 1 + d·x²·y² over GF(2²⁵⁵ - 19).
const P = (1n << 255n) - 19n;
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const mod = (a: bigint, m = P) => ((a % m) + m) % m;

function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  b = mod(b);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}
const inv = (a: bigint) => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const D2 = mod(2n * D);

/** A point in extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, x·y = T/Z. */
type Point = [bigint, bigint, bigint, bigint];
const BASE_Y = mod(4n * inv(5n));
const BASE_X = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
const BASE: Point = [BASE_X, BASE_Y, 1n, mod(BASE_X * BASE_Y)];
const IDENTITY: Point = [0n, 1n, 1n, 0n];

function add(p: Point, q: Point): Point {
  const a = mod((p[1] - p[0]) * (q[1] - q[0]));
  const b = mod((p[1] + p[0]) * (q[1] + q[0]));
  const c = mod(p[3] * D2 * q[3]);
  const d = mod(p[2] * 2n * q[2]);
  const e = b - a, f = d - c, g = d + c, h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function multiply(k: bigint): Point {
  let r = IDENTITY;
  let q = BASE;
  while (k > 0n) {
    if (k & 1n) r = add(r, q);
    q = add(q, q);
    k >>= 1n;
  }
  return r;
}

function encodePoint(p: Point): Uint8Array {
  const zi = inv(p[2]);
  const x = mod(p[0] * zi), y = mod(p[1] * zi);
  const out = toLittleEndian(y);
  if (x & 1n) out[31] |= 0x80;
  return out;
}

function toLittleEndian(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

function fromLittleEndian(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

/** MariaDB `client_ed25519`: the 64-byte signature of the server's 32-byte scramble. */
export function ed25519Password(password: string, scramble: Uint8Array): Uint8Array {
  const h = hash("sha512", enc.encode(password));
  const s = h.slice(0, 32);
  s[0] &= 248;
  s[31] &= 127;
  s[31] |= 64;
  const a = fromLittleEndian(s);
  const pub = encodePoint(multiply(a));
  const r = mod(fromLittleEndian(hash("sha512", h.subarray(32), scramble)), L);
  const big = encodePoint(multiply(r));
  const k = mod(fromLittleEndian(hash("sha512", big, pub, scramble)), L);
  const out = new Uint8Array(64);
  out.set(big);
  out.set(toLittleEndian(mod(r + k * a, L)), 32);
  return out;
}

/** The first answer to `plugin`'s challenge; `undefined` for a plugin hoop does not speak. */
export function authAnswer(
  plugin: string,
  password: string,
  scramble: Uint8Array,
): Uint8Array | undefined {
  switch (plugin) {
    case "mysql_native_password":
      return nativePassword(password, scramble);
    case "caching_sha2_password":
      return cachingSha2Password(password, scramble);
    case "client_ed25519":
      return ed25519Password(password, scramble);
    case "mysql_clear_password":
      return enc.encode(password + "\0");
    default:
      return undefined;
  }
}

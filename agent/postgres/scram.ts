/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses
 * it, on WebCrypto (PBKDF2, HMAC, SHA-256). No channel binding: hoop sends the
 * `n,,` GS2 header, which PostgreSQL accepts unless the server is configured to
 * require `SCRAM-SHA-256-PLUS`.
 *
 * Flow: {@linkcode ScramClient.clientFirst} → server-first (`AuthenticationSASLContinue`)
 * → {@linkcode ScramClient.clientFinal} → server-final (`AuthenticationSASLFinal`)
 * → {@linkcode ScramClient.verifyServerFinal}, which proves the server knew the
 * password too.
 *
 * @module
 */
import { decodeBase64, encodeBase64 } from "../../proto/base64.ts";
import { HoopError } from "../../proto/errors.ts";

/** The mechanism name hoop speaks. */
export const SCRAM_SHA_256 = "SCRAM-SHA-256";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Length of the client nonce in random bytes (base64-encoded on the wire). */
const CLIENT_NONCE_BYTES = 18;
/** Iteration counts past this are refused: a hostile server could pin the agent's CPU. */
const MAX_ITERATIONS = 1_000_000;

function hmacKey(key: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

async function sign(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, data as Uint8Array<ArrayBuffer>));
}

async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  return await sign(await hmacKey(key), data);
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}

async function pbkdf2(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey(
    "raw",
    password as Uint8Array<ArrayBuffer>,
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as Uint8Array<ArrayBuffer>, iterations },
    k,
    256,
  );
  return new Uint8Array(bits);
}

/**
 * What a password, salt and iteration count come to (RFC 5802's ClientKey,
 * StoredKey and ServerKey): all a login needs besides the nonces.
 */
interface ScramKeys {
  clientKey: Uint8Array;
  storedKey: CryptoKey;
  serverKey: CryptoKey;
}

async function deriveKeys(
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<ScramKeys> {
  const salted = await pbkdf2(enc.encode(saslPrep(password)), salt, iterations);
  const clientKey = await hmac(salted, enc.encode("Client Key"));
  return {
    clientKey,
    storedKey: await hmacKey(await sha256(clientKey)),
    serverKey: await hmacKey(await hmac(salted, enc.encode("Server Key"))),
  };
}

/** Most derived key sets a {@linkcode ScramKeyCache} holds; the oldest goes first. */
export const SCRAM_KEY_CACHE_ENTRIES = 64;

/** A derived key set is derived again after this long. */
export const SCRAM_KEY_CACHE_MS = 15 * 60_000;

/**
 * Derived keys by password, salt and iteration count. PostgreSQL sends the
 * same salt and count on every login of a role until its password changes,
 * and the PBKDF2 behind them (4,096 rounds by default) was ~1.1 ms of every
 * session's set-up on the agent; libpq pays it on each connection. The keys
 * stand for the password towards that server only, and live no longer than
 * {@linkcode SCRAM_KEY_CACHE_MS} in the process that holds the password
 * anyway. A new password or salt is a new entry; logins that miss at once
 * share one derivation.
 */
export class ScramKeyCache {
  #entries = new Map<string, { keys: Promise<ScramKeys>; at: number }>();
  #max: number;
  #ttlMs: number;

  constructor(opts: { max?: number; ttlMs?: number } = {}) {
    this.#max = opts.max ?? SCRAM_KEY_CACHE_ENTRIES;
    this.#ttlMs = opts.ttlMs ?? SCRAM_KEY_CACHE_MS;
  }

  /** Key sets held now (for tests). */
  get size(): number {
    return this.#entries.size;
  }

  /** The keys for this password, salt and count, derived once within the TTL. */
  keys(
    password: string,
    salt: string,
    saltBytes: Uint8Array,
    iterations: number,
  ): Promise<ScramKeys> {
    const id = `${iterations}$${salt}$${password}`;
    const now = Date.now();
    const hit = this.#entries.get(id);
    if (hit && now - hit.at < this.#ttlMs) return hit.keys;
    this.#entries.delete(id);
    const keys = deriveKeys(password, saltBytes, iterations);
    const entry = { keys, at: now };
    // A failed derivation is not kept: the next login tries again.
    keys.catch(() => {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
    });
    this.#entries.set(id, entry);
    // Map order is insertion order: the first entries are the oldest.
    for (const old of this.#entries.keys()) {
      if (this.#entries.size <= this.#max) break;
      this.#entries.delete(old);
    }
    return keys;
  }
}

/** The agent's one cache: every login to every server goes through it. */
const sharedKeys = new ScramKeyCache();

/** Compare two byte strings without an early exit. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * SASLprep (RFC 4013) as far as PostgreSQL's libpq needs it: non-ASCII spaces
 * become spaces, "mapped to nothing" characters are dropped, then NFKC. ASCII
 * passwords pass unchanged. libpq falls back to the raw bytes when SASLprep
 * fails; prohibited-character checks are omitted here, which gives that same
 * result for the passwords those checks would reject.
 */
export function saslPrep(password: string): string {
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  return password
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, " ")
    .replace(/[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/g, "")
    .normalize("NFKC");
}

function parseAttributes(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(",")) {
    const eq = part.indexOf("=");
    if (eq === 1) out.set(part[0], part.slice(2));
  }
  return out;
}

function protocolError(what: string): HoopError {
  return new HoopError(
    "unauthenticated",
    `Cannot complete SCRAM-SHA-256 authentication: ${what}`,
  );
}

/** One SCRAM-SHA-256 exchange, client side. */
export class ScramClient {
  #password: string;
  #nonce: string;
  #clientFirstBare: string;
  #serverSignature: Uint8Array | null = null;
  #cache: ScramKeyCache;

  /**
   * @param password the real password (never leaves this object but as a proof)
   * @param opts `user` goes in the client-first message (PostgreSQL ignores it
   *   and uses the startup user; empty by default, as libpq sends); `nonce` is
   *   for test vectors only; `cache` holds the derived keys (the process's one
   *   by default).
   */
  constructor(
    password: string,
    opts: { user?: string; nonce?: string; cache?: ScramKeyCache } = {},
  ) {
    this.#password = password;
    this.#cache = opts.cache ?? sharedKeys;
    this.#nonce = opts.nonce ??
      encodeBase64(crypto.getRandomValues(new Uint8Array(CLIENT_NONCE_BYTES)));
    const user = (opts.user ?? "").replaceAll("=", "=3D").replaceAll(",", "=2C");
    this.#clientFirstBare = `n=${user},r=${this.#nonce}`;
  }

  /** The client-first message (for `SASLInitialResponse`). */
  clientFirst(): Uint8Array {
    return enc.encode(`n,,${this.#clientFirstBare}`);
  }

  /** The client-final message with the proof, from the server-first message. */
  async clientFinal(serverFirst: Uint8Array): Promise<Uint8Array> {
    const serverFirstText = dec.decode(serverFirst);
    const attrs = parseAttributes(serverFirstText);
    const nonce = attrs.get("r");
    const salt = attrs.get("s");
    const iterations = Number(attrs.get("i"));
    if (!nonce || !salt || !Number.isInteger(iterations)) {
      throw protocolError("the server's first message is malformed");
    }
    if (!nonce.startsWith(this.#nonce) || nonce.length === this.#nonce.length) {
      throw protocolError("the server's nonce does not extend the client's");
    }
    if (iterations < 1 || iterations > MAX_ITERATIONS) {
      throw protocolError(`the iteration count ${iterations} is outside 1..${MAX_ITERATIONS}`);
    }
    let saltBytes: Uint8Array;
    try {
      saltBytes = decodeBase64(salt);
    } catch {
      throw protocolError("the server's salt is not base64");
    }
    const keys = await this.#cache.keys(this.#password, salt, saltBytes, iterations);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = enc.encode(`${this.#clientFirstBare},${serverFirstText},${withoutProof}`);
    const clientSignature = await sign(keys.storedKey, authMessage);
    const proof = keys.clientKey.map((b, i) => b ^ clientSignature[i]);
    this.#serverSignature = await sign(keys.serverKey, authMessage);
    return enc.encode(`${withoutProof},p=${encodeBase64(proof)}`);
  }

  /** Check the server-final message; throws unless the server proved it knows the password. */
  verifyServerFinal(serverFinal: Uint8Array): void {
    if (!this.#serverSignature) throw protocolError("the server's final message came too early");
    const attrs = parseAttributes(dec.decode(serverFinal));
    const err = attrs.get("e");
    if (err !== undefined) throw protocolError(`the server reported "${err}"`);
    const v = attrs.get("v");
    let sig: Uint8Array;
    try {
      sig = decodeBase64(v ?? "");
    } catch {
      throw protocolError("the server's signature is not base64");
    }
    if (!v || !timingSafeEqual(sig, this.#serverSignature)) {
      throw protocolError("the server's signature does not match (is it the real server?)");
    }
  }
}

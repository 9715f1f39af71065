/**
 * Encryption of secrets at rest (the org key, connection configs): AES-256-GCM
 * through WebCrypto under the gateway's secret key. Sealed text is
 * `v1:` + base64url(iv(12) || ciphertext || tag(16)); the version prefix lets a
 * later key or algorithm change coexist with rows written before it.
 *
 * @module
 */

import { decodeBase64, encodeBase64, encodeBase64Url } from "../proto/base64.ts";
import { join } from "node:path";
import { HoopError } from "../proto/errors.ts";
import type { SecretBox } from "./store/store.ts";

/** Bytes of an AES-256 key. */
export const SECRET_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const PREFIX = "v1:";
const KEY_FILE = "secret.key";
const KEY_HINT = "create one with: openssl rand -base64 32";

class AesGcmSecretBox implements SecretBox {
  #key: CryptoKey;

  constructor(key: CryptoKey) {
    this.#key = key;
  }

  async seal(plain: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const ct = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv },
        this.#key,
        new TextEncoder().encode(plain),
      ),
    );
    const out = new Uint8Array(IV_BYTES + ct.length);
    out.set(iv);
    out.set(ct, IV_BYTES);
    return PREFIX + encodeBase64Url(out);
  }

  async open(sealed: string): Promise<string> {
    // Never quote the sealed text: it is ciphertext of a secret.
    if (!sealed.startsWith(PREFIX)) {
      throw new Error('Cannot open sealed secret: unknown format, wanted a "v1:" prefix');
    }
    let raw: Uint8Array<ArrayBuffer>;
    try {
      raw = decodeBase64(sealed.slice(PREFIX.length));
    } catch (cause) {
      throw new Error("Cannot open sealed secret: the text is not valid base64url", { cause });
    }
    if (raw.length < IV_BYTES + TAG_BYTES) {
      throw new Error("Cannot open sealed secret: the text is too short");
    }
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: raw.subarray(0, IV_BYTES) },
        this.#key,
        raw.subarray(IV_BYTES),
      );
    } catch (cause) {
      throw new HoopError(
        "failed_precondition",
        "Cannot open sealed secret: authentication failed (wrong secret key or tampered data)",
        {
          cause,
          hint: "use the HOOP_SECRET_KEY or secret.key that the stored data was written with",
        },
      );
    }
    return new TextDecoder().decode(plain);
  }
}

/** A SecretBox under a raw 32-byte AES key. */
export async function secretBoxFromKey(raw: Uint8Array): Promise<SecretBox> {
  if (raw.length !== SECRET_KEY_BYTES) {
    throw new Error(
      `Cannot use secret key: it has ${raw.length} bytes, wanted ${SECRET_KEY_BYTES}`,
    );
  }
  const key = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(raw),
    { name: "AES-GCM" },
    false,
    ["encrypt", "decrypt"],
  );
  return new AesGcmSecretBox(key);
}

/** Options of {@linkcode loadSecretBox}. */
export interface LoadSecretBoxOptions {
  /** The gateway's data dir; holds `secret.key` when no env key is given. */
  dataDir: string;
  /** The value of `HOOP_SECRET_KEY`: base64 or base64url of 32 bytes. */
  envKey?: string;
}

/**
 * The gateway's SecretBox: the key from `HOOP_SECRET_KEY` when given, else
 * from `<dataDir>/secret.key`, created (0600, in a 0700 data dir) on first use.
 */
export async function loadSecretBox(opts: LoadSecretBoxOptions): Promise<SecretBox> {
  if (opts.envKey !== undefined && opts.envKey.trim() !== "") {
    return await secretBoxFromKey(decodeKey(opts.envKey, "HOOP_SECRET_KEY"));
  }
  await Deno.mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const path = join(opts.dataDir, KEY_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    const fresh = crypto.getRandomValues(new Uint8Array(SECRET_KEY_BYTES));
    text = encodeBase64(fresh) + "\n";
    try {
      // createNew: two gateways starting on one fresh dir must not each write a key.
      await Deno.writeTextFile(path, text, { mode: 0o600, createNew: true });
    } catch (werr) {
      if (!(werr instanceof Deno.errors.AlreadyExists)) throw werr;
      text = await Deno.readTextFile(path);
    }
  }
  return await secretBoxFromKey(decodeKey(text, path));
}

function decodeKey(text: string, source: string): Uint8Array {
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = decodeBase64(text);
  } catch (cause) {
    throw new HoopError(
      "invalid_argument",
      `Cannot load secret key from ${source}: it is not base64 of ${SECRET_KEY_BYTES} bytes`,
      { cause, hint: KEY_HINT },
    );
  }
  if (raw.length !== SECRET_KEY_BYTES) {
    throw new HoopError(
      "invalid_argument",
      `Cannot load secret key from ${source}: it decodes to ${raw.length} bytes, wanted ${SECRET_KEY_BYTES}`,
      { hint: KEY_HINT },
    );
  }
  return raw;
}

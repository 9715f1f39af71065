/**
 * How a finished single sign-on reaches a CLI: a one-time code on the
 * loopback redirect (`hoop login`), or a device login the CLI polls for
 * (`hoop login --no-browser`). Both carry a hoop token issued by the gateway;
 * the provider's own tokens never leave it.
 *
 * @module
 */
import { encodeBase64Url } from "../../proto/base64.ts";
import { resourceExhausted } from "../../proto/errors.ts";
import { sha256Hex, timingSafeEqual } from "../../proto/keys.ts";
import type { LoginResponse } from "../../proto/api_types.ts";

/** A loopback code must be exchanged this fast. */
export const CLI_CODE_TTL_MS = 60_000;

/** A device login waits this long for the user to sign in elsewhere. */
export const DEVICE_LOGIN_TTL_MS = 10 * 60_000;

/** How often a CLI may poll a device login. */
export const DEVICE_POLL_INTERVAL_S = 2;

/** Loopback codes and device logins outstanding at once; past it new ones are refused. */
export const MAX_PENDING_HANDOFFS = 1_024;

/** A device login's state as the poller sees it. */
export type DeviceState =
  | { state: "pending" }
  | { state: "done"; login: LoginResponse }
  | { state: "failed"; message: string };

interface Device {
  secretHash: string;
  userCode: string;
  expiresAt: number;
  result?: DeviceState;
}

function random(bytes: number): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Letters that cannot be misread (no 0/O, 1/I/L). */
const USER_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

function userCode(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  const s = [...b].map((x) => USER_CODE_ALPHABET[x % USER_CODE_ALPHABET.length]).join("");
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

/** Outstanding hand-offs. */
export class Handoffs {
  #codes = new Map<string, { login: LoginResponse; expiresAt: number }>();
  #devices = new Map<string, Device>();
  #byUserCode = new Map<string, string>();

  #sweep(): void {
    const now = Date.now();
    for (const [k, v] of this.#codes) if (v.expiresAt < now) this.#codes.delete(k);
    for (const [k, v] of this.#devices) {
      if (v.expiresAt < now) {
        this.#devices.delete(k);
        this.#byUserCode.delete(v.userCode);
      }
    }
    if (this.#codes.size + this.#devices.size >= MAX_PENDING_HANDOFFS) {
      throw resourceExhausted(
        `Cannot start a single sign-on: ${MAX_PENDING_HANDOFFS} CLI logins are already waiting`,
        { hint: "try again in a few minutes" },
      );
    }
  }

  /** A one-time code for a loopback redirect, worth `login`. */
  issueCode(login: LoginResponse): string {
    this.#sweep();
    const code = random(32);
    this.#codes.set(code, { login, expiresAt: Date.now() + CLI_CODE_TTL_MS });
    return code;
  }

  /** Spend a loopback code: the login, or `undefined` when unknown, used or expired. */
  redeemCode(code: string): LoginResponse | undefined {
    const entry = this.#codes.get(code);
    this.#codes.delete(code);
    return entry && entry.expiresAt >= Date.now() ? entry.login : undefined;
  }

  /** Start a device login: its id, the poller's secret and the code the user types or follows. */
  async startDevice(): Promise<
    { loginId: string; secret: string; userCode: string; expiresAt: Date }
  > {
    this.#sweep();
    const loginId = random(16);
    const secret = random(32);
    let code = userCode();
    while (this.#byUserCode.has(code)) code = userCode();
    const expiresAt = Date.now() + DEVICE_LOGIN_TTL_MS;
    this.#devices.set(loginId, { secretHash: await sha256Hex(secret), userCode: code, expiresAt });
    this.#byUserCode.set(code, loginId);
    return { loginId, secret, userCode: code, expiresAt: new Date(expiresAt) };
  }

  /** The device login a user code names, if it still waits. */
  deviceOfUserCode(code: string): string | undefined {
    const id = this.#byUserCode.get(code.trim().toUpperCase());
    const d = id ? this.#devices.get(id) : undefined;
    return d && !d.result && d.expiresAt >= Date.now() ? id : undefined;
  }

  /** The browser side of a device login ended. */
  finishDevice(loginId: string, result: DeviceState): void {
    const d = this.#devices.get(loginId);
    if (d) d.result = result;
  }

  /**
   * The poller's view; a finished login is handed out once. `undefined` for
   * an unknown login or a wrong secret.
   */
  async pollDevice(loginId: string, secret: string): Promise<DeviceState | undefined> {
    const d = this.#devices.get(loginId);
    if (!d || d.expiresAt < Date.now()) return undefined;
    if (!timingSafeEqual(await sha256Hex(secret), d.secretHash)) return undefined;
    if (!d.result) return { state: "pending" };
    this.#devices.delete(loginId);
    this.#byUserCode.delete(d.userCode);
    return d.result;
  }
}

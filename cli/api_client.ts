/**
 * A small client of the gateway's HTTP JSON API (`docs/API.md`). It turns
 * every failure into a {@linkcode HoopError} a person can act on: error
 * bodies keep their code, message and hint; a gateway that cannot be reached
 * is diagnosed with the URL tried and where that URL came from.
 *
 * @module
 */

import { decodeBase64 } from "../proto/base64.ts";
import type { ErrorBody } from "../proto/api_types.ts";
import { ERROR_CODES, type ErrorCode, HoopError, isErrorCode } from "../proto/errors.ts";
import { describeSource, resolveApi, type SettingSource } from "./config.ts";
import type { Context } from "./context.ts";

// The API's JSON shapes live in proto/api_types.ts, shared with the gateway; re-exported for
// the CLI's library users.
export type {
  Agent,
  Connection,
  CreateSessionResponse,
  LoginResponse,
  OrgKey,
  Session,
  SessionEvent,
  User,
} from "../proto/api_types.ts";

/** Options of {@linkcode ApiClient}. */
export interface ApiClientOptions {
  apiUrl: string;
  token?: string;
  /** Where `apiUrl` came from, named in connection diagnostics. */
  source?: SettingSource;
  /** A PEM CA bundle to trust instead of the system roots. */
  caCert?: string;
}

/** Options of one request. */
export interface RequestOptions {
  /**
   * The route needs no login (signup, login): a 401 is the server's verdict
   * on the credentials given, not a missing login.
   */
  anonymous?: boolean;
}

const LOGIN_HINT = 'run "hoop login --email EMAIL"';

/** The ErrorCode of an answer without a usable error body, from the one table in proto/errors.ts. */
function codeFromStatus(status: number): ErrorCode {
  // Proxies in front of a gateway answer these when it is down or slow.
  if (status === 502 || status === 504) return "unavailable";
  const found = Object.entries(ERROR_CODES).find(([, m]) => m.http === status);
  return found ? found[0] as ErrorCode : "internal";
}

/** Explain why a request never got an answer, from the text of Deno's fetch error. */
function connectFailure(
  err: unknown,
  apiUrl: string,
): { state: string; tls: boolean; hint?: string } {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 5; e = e.cause) {
    parts.push(e.message);
  }
  const text = parts.join(": ");
  if (/connection refused/i.test(text)) return { state: "connection refused", tls: false };
  // A TLS client at a plain port reads an HTTP answer as a bad TLS record, and a plain
  // client at a TLS port reads a TLS record as a bad HTTP version.
  const https = apiUrl.startsWith("https:");
  if (https && /InvalidContentType|wrong version number|corrupt message/i.test(text)) {
    return {
      state: "the URL says https:// but the gateway does not speak TLS there",
      tls: false,
      hint: "use http:// in --api-url / HOOP_API_URL, or start the gateway with --tls-cert",
    };
  }
  if (!https && /invalid HTTP version|HTTP\/0\.9|invalid status line/i.test(text)) {
    return {
      state: "the URL says http:// but the gateway serves TLS there",
      tls: false,
      hint: "use https:// in --api-url / HOOP_API_URL (and HOOP_TLSCA for a private CA)",
    };
  }
  if (/dns error|failed to lookup|name or service not known/i.test(text)) {
    return { state: "the host name cannot be resolved", tls: false };
  }
  if (/certificate|unknownissuer|tls|handshake/i.test(text)) {
    return { state: `the TLS handshake failed (${lastPart(parts)})`, tls: true };
  }
  if (/timed out/i.test(text)) return { state: "the connection timed out", tls: false };
  if (/connection reset|broken pipe|connection closed/i.test(text)) {
    return { state: "the connection was closed before an answer", tls: false };
  }
  return { state: lastPart(parts) || "the request failed", tls: false };
}

function lastPart(parts: string[]): string {
  const last = parts[parts.length - 1] ?? "";
  // Deno nests "error sending request for url (...): client error (Connect): ..."; keep the tail.
  const tail = last.split(": ").slice(-1)[0];
  return tail.replace(/\s*\(os error \d+\)$/, "");
}

/**
 * One HTTP client per private CA for the whole process: `hoop connect` builds
 * an API client for every local connection (to pick up a new login), and a
 * fresh `Deno.HttpClient` each time meant a new TLS handshake with the API
 * per session; a shared one keeps its connections alive between them.
 */
const httpClients = new Map<string, Deno.HttpClient>();

function httpClientFor(caCert: string): Deno.HttpClient {
  let c = httpClients.get(caCert);
  if (!c) {
    c = Deno.createHttpClient({ caCerts: [caCert] });
    httpClients.set(caCert, c);
  }
  return c;
}

/** A client of the gateway API. */
export class ApiClient {
  readonly apiUrl: string;
  readonly source: SettingSource;
  readonly #token?: string;
  readonly #httpClient?: Deno.HttpClient;

  constructor(options: ApiClientOptions) {
    this.apiUrl = options.apiUrl.replace(/\/+$/, "");
    this.#token = options.token;
    this.source = options.source ?? "default";
    if (options.caCert) this.#httpClient = httpClientFor(options.caCert);
  }

  /** True when requests carry a bearer token. */
  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** `GET path` and decode the JSON answer. */
  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>("GET", path, undefined, options);
  }

  /** `POST path` with a JSON body. */
  post<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>("POST", path, body, options);
  }

  /** `PATCH path` with a JSON body. */
  patch<T>(path: string, body: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>("PATCH", path, body, options);
  }

  /** `DELETE path`. */
  delete<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>("DELETE", path, undefined, options);
  }

  /**
   * Done with this client. The HTTP client under it is shared for the
   * process's life (see `httpClientFor`), so nothing is closed here.
   */
  close(): void {}

  /** Send one request; the answer's JSON, or `undefined` for 204. */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    const url = this.apiUrl + path;
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        client: this.#httpClient,
      });
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
      const { state, tls, hint } = connectFailure(err, this.apiUrl);
      throw new HoopError(
        "unavailable",
        `Cannot reach the gateway API at "${this.apiUrl}" ${describeSource(this.source)}: ${state}`,
        {
          cause: err,
          hint: hint ??
            (tls
              ? "set HOOP_TLSCA to the gateway's CA certificate (a file path or base64://PEM)"
              : 'start one with "hoop start gateway" or set --api-url / HOOP_API_URL'),
        },
      );
    }
    const text = await res.text();
    if (!res.ok) throw this.#errorFromAnswer(method, url, res, text, options);
    if (res.status === 204 || text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new HoopError(
        "internal",
        `Cannot read the answer to ${method} "${url}": not JSON (HTTP ${res.status})`,
        { cause: err, hint: "check that --api-url points at a hoop gateway" },
      );
    }
  }

  #errorFromAnswer(
    method: string,
    url: string,
    res: Response,
    text: string,
    options: RequestOptions,
  ): HoopError {
    let code: ErrorCode = codeFromStatus(res.status);
    let message: string | undefined;
    let hint: string | undefined;
    try {
      // Checked field by field: the body may come from something that is not a hoop gateway.
      const parsed = JSON.parse(text) as {
        error?: { [K in keyof ErrorBody["error"]]?: unknown };
      };
      const e = parsed?.error;
      if (e && typeof e.message === "string") {
        message = e.message;
        if (isErrorCode(e.code)) code = e.code;
        if (typeof e.hint === "string" && e.hint !== "") hint = e.hint;
      }
    } catch {
      // Not one of ours (a proxy's HTML page, say): described below by its status.
    }
    if (code === "unauthenticated" && !options.anonymous) {
      if (!this.#token) {
        return new HoopError("unauthenticated", "Not logged in", { hint: LOGIN_HINT });
      }
      return new HoopError(
        "unauthenticated",
        message ?? "Cannot use the saved token: it was refused",
        {
          hint: LOGIN_HINT,
        },
      );
    }
    message ??=
      `Cannot ${method} "${url}": the server answered HTTP ${res.status} ${res.statusText}`
        .trimEnd();
    return new HoopError(code, message, { hint });
  }
}

/** Read `HOOP_TLSCA`: a PEM file path or `base64://<base64 PEM>`; `undefined` when unset. */
export async function loadTlsCa(ctx: Pick<Context, "env">): Promise<string | undefined> {
  const value = ctx.env("HOOP_TLSCA");
  if (!value) return undefined;
  if (value.startsWith("base64://")) {
    try {
      return new TextDecoder().decode(
        decodeBase64(value.slice("base64://".length)),
      );
    } catch (err) {
      throw new HoopError("invalid_argument", "Cannot read HOOP_TLSCA: not valid base64", {
        cause: err,
      });
    }
  }
  try {
    return await Deno.readTextFile(value);
  } catch (err) {
    throw new HoopError(
      "invalid_argument",
      `Cannot read HOOP_TLSCA "${value}": ${err instanceof Error ? err.message : err}`,
      { cause: err },
    );
  }
}

/** Build a client from the flags, environment and config of `ctx`. */
export async function apiClientFor(
  ctx: Context,
  flags: { apiUrl?: string; token?: string } = {},
): Promise<ApiClient> {
  const resolved = await resolveApi(ctx, flags);
  return new ApiClient({ ...resolved, caCert: await loadTlsCa(ctx) });
}

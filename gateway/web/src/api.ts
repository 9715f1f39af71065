/**
 * The console's calls to the gateway's API: same-origin, the session cookie
 * sent by the browser, the CSRF token on every state-changing request, and
 * the API's `{error: {message, hint}}` turned into an `ApiError` the pages
 * show in place.
 *
 * @module
 */

/** A refusal from the API, with the message and hint the page shows. */
export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly hint?: string) {
    super(message);
    this.name = "ApiError";
  }
}

let csrfToken = "";

/** The token `/api/web/session` or `/api/web/login` handed out. */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** The CSRF token, for the terminal's WebSocket URL. */
export function csrf(): string {
  return csrfToken;
}

/** Called when the API says the session is gone (401): the shell shows the sign-in page. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(f: () => void): void {
  onSignedOut = f;
}

/** Call the API; resolves with its JSON (undefined for 204), throws {@linkcode ApiError}. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") headers["X-Hoop-CSRF"] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError("Cannot reach the gateway", 0, "check that it is running, then retry");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: { message?: string; hint?: string } } | undefined)?.error;
    if (res.status === 401 && !path.startsWith("/api/web/login")) onSignedOut();
    throw new ApiError(
      e?.message ?? `The gateway answered HTTP ${res.status}`,
      res.status,
      e?.hint,
    );
  }
  return json as T;
}

/** The message of any error, for display. */
export function errorText(err: unknown): { message: string; hint?: string } {
  if (err instanceof ApiError) return { message: err.message, hint: err.hint };
  return { message: err instanceof Error ? err.message : String(err) };
}

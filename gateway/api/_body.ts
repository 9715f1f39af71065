/**
 * Request bodies: read through a byte limit that is enforced while the
 * stream arrives, so a body without `Content-Length` (chunked) or with a
 * `Content-Length` that lies cannot make the gateway buffer more than
 * {@linkcode MAX_BODY_BYTES}; then parsed as a JSON object whose fields the
 * handlers check one by one.
 *
 * @module
 */
import { concatBytes } from "../../proto/bytes.ts";
import { invalidArgument, resourceExhausted } from "../../proto/errors.ts";

/**
 * Largest request body the API reads. A longer one is answered 413 as soon as
 * the limit is passed: the rest of the stream is cancelled, never buffered.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

const MAX_BODY_TEXT = "1 MiB";

/**
 * A request body as parsed: the keys of the wire type `T` (so a renamed
 * field fails `deno check`), with values still to be checked.
 */
export type Body<T> = { readonly [K in keyof T]?: unknown };

/** Read at most {@linkcode MAX_BODY_BYTES} of `req`'s body; throws `resource_exhausted` past it. */
export async function readBodyBytes(req: Request): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) {
    throw resourceExhausted(
      `Request body of ${declared} bytes is over the ${MAX_BODY_TEXT} limit`,
    );
  }
  if (req.body === null) return new Uint8Array(0);
  // Count what arrives rather than trusting Content-Length: it may be absent or lie.
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw resourceExhausted(
        `Request body of at least ${total} bytes is over the ${MAX_BODY_TEXT} limit`,
      );
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}

/** `req`'s body as a JSON object (`{}` when empty); throws `invalid_argument` for anything else. */
export async function readJsonBody<T>(req: Request): Promise<Body<T>> {
  const bytes = await readBodyBytes(req);
  if (bytes.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    // Answered below, like any other non-object.
  }
  if (value && typeof value === "object" && !Array.isArray(value)) return value as Body<T>;
  throw invalidArgument("Request body is not a JSON object");
}

/** The string field `key`; throws `invalid_argument` when missing, empty or not a string. */
export function requiredString<T>(body: Body<T>, key: keyof T & string): string {
  const v = optionalString(body, key);
  if (v === undefined) throw invalidArgument(`Missing field "${key}"`);
  return v;
}

/** The string field `key`, `undefined` when missing, `null` or empty. */
export function optionalString<T>(body: Body<T>, key: keyof T & string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw invalidArgument(`Field "${key}" must be a string`);
  return v;
}

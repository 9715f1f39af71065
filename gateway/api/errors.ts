/**
 * The API's two last-resort handlers. {@linkcode onApiError} answers every
 * thrown error with the `{"error": {code, message, hint}}` body: a
 * {@linkcode HoopError} (or a store error standing for one) with the HTTP
 * status of its code's row in `proto/errors.ts`; anything else is a bug,
 * logged with its stack and answered with a generic message and a request id
 * the user can quote. {@linkcode notFoundHandler} answers unknown routes in
 * the same shape.
 *
 * @module
 */
import type { Context, ErrorHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorBody } from "../../proto/api_types.ts";
import { alreadyExists, HoopError, notFound } from "../../proto/errors.ts";
import type { Logger } from "../../proto/log.ts";
import { StoreConflictError, StoreNotFoundError } from "../store/store.ts";

/** Answer `err` in the API's error shape with its code's HTTP status. */
function errorResponse(c: Context, err: HoopError): Response {
  const body: ErrorBody = err.toJson();
  if (err.retryAfterSeconds !== undefined) c.header("Retry-After", String(err.retryAfterSeconds));
  return c.json(body, err.httpStatus as ContentfulStatusCode);
}

/** The HoopError a thrown value stands for, or `undefined` for a bug. */
function asHoopError(err: unknown): HoopError | undefined {
  if (err instanceof HoopError) return err;
  if (err instanceof StoreNotFoundError) return notFound(err.message, { cause: err });
  if (err instanceof StoreConflictError) return alreadyExists(err.message, { cause: err });
  return undefined;
}

/** The API's `onError`: known failures keep their code, bugs are logged and hidden. */
export function onApiError(log: Logger): ErrorHandler {
  return (err, c) => {
    const known = asHoopError(err);
    if (known) return errorResponse(c, known);
    const requestId = crypto.randomUUID();
    log.error("internal error in API", {
      request_id: requestId,
      path: new URL(c.req.url).pathname,
      err,
      stack: err instanceof Error ? err.stack : undefined,
    });
    const body: ErrorBody = {
      error: { code: "internal", message: `Internal error (request ${requestId})` },
    };
    return c.json(body, 500);
  };
}

/** The API's `notFound`: a 404 naming the path that matched no route. */
export function notFoundHandler(c: Context): Response {
  return errorResponse(c, notFound(`No API route "${new URL(c.req.url).pathname}"`));
}

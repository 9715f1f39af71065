/**
 * The one error family of hoop. Every failure a user can cause or meet is a
 * {@linkcode HoopError} with a stable `code`; the table below maps each code to
 * a gRPC status, an HTTP status and a CLI exit code so that the three edges
 * (gRPC, HTTP API, CLI) agree. Anything thrown that is not a HoopError is a bug:
 * the edges log it with its stack and show a short generic message.
 *
 * @module
 */

/** Stable error codes; part of the public JSON API, never renamed. */
export type ErrorCode =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "unauthenticated"
  | "permission_denied"
  | "unavailable"
  | "failed_precondition"
  | "resource_exhausted"
  | "internal";

interface CodeMapping {
  /** gRPC status number (grpc-js `status`). */
  grpc: number;
  /** HTTP status of the JSON API. */
  http: number;
  /** Exit code of the CLI. */
  exit: number;
}

/** One table for all three edges. Usage errors exit 2, every other failure 1. */
export const ERROR_CODES: Readonly<Record<ErrorCode, CodeMapping>> = {
  invalid_argument: { grpc: 3, http: 400, exit: 2 },
  not_found: { grpc: 5, http: 404, exit: 1 },
  already_exists: { grpc: 6, http: 409, exit: 1 },
  unauthenticated: { grpc: 16, http: 401, exit: 1 },
  permission_denied: { grpc: 7, http: 403, exit: 1 },
  unavailable: { grpc: 14, http: 503, exit: 1 },
  failed_precondition: { grpc: 9, http: 412, exit: 1 },
  resource_exhausted: { grpc: 8, http: 413, exit: 1 },
  internal: { grpc: 13, http: 500, exit: 1 },
};

/** Options of {@linkcode HoopError}. */
export interface HoopErrorOptions extends ErrorOptions {
  /** A remedy shown on its own line after the message. */
  hint?: string;
  /**
   * For `resource_exhausted` from a rate limit: when to try again. The HTTP
   * API then answers 429 with a `Retry-After` header instead of 413.
   */
  retryAfterSeconds?: number;
}

/** An error a user may see: a code and a one-line, secret-free message. */
export class HoopError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, options?: HoopErrorOptions) {
    super(message, options);
    this.name = "HoopError";
    this.code = code;
    this.hint = options?.hint;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  /** The gRPC status number for this error. */
  get grpcStatus(): number {
    return ERROR_CODES[this.code].grpc;
  }

  /** The HTTP status for this error. */
  get httpStatus(): number {
    if (this.code === "resource_exhausted" && this.retryAfterSeconds !== undefined) return 429;
    return ERROR_CODES[this.code].http;
  }

  /** The CLI exit code for this error. */
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  /** The JSON body the HTTP API sends for this error. */
  toJson(): { error: { code: ErrorCode; message: string; hint?: string } } {
    return { error: { code: this.code, message: this.message, hint: this.hint } };
  }
}

/** Shorthand constructors, one per code, so call sites read like the table. */
export function invalidArgument(message: string, options?: HoopErrorOptions): HoopError {
  return new HoopError("invalid_argument", message, options);
}
/** A named thing does not exist. */
export function notFound(message: string, options?: HoopErrorOptions): HoopError {
  return new HoopError("not_found", message, options);
}
/** A named thing exists already. */
export function alreadyExists(message: string, options?: HoopErrorOptions): HoopError {
  return new HoopError("already_exists", message, options);
}
/** The caller could not be identified (no, wrong, expired or revoked credential). */
export function unauthenticated(message: string, options?: HoopErrorOptions): HoopError {
  return new HoopError("unauthenticated", message, options);
}
/** The caller is known but may not do this. */
export function permissionDenied(message: string, options?: HoopErrorOptions): HoopError {
  return new HoopError("permission_denied", message, options);
}
/** A peer (gateway, agent, resource) cannot be reached now. */
export function unavailable(message: string, options?: HoopErrorOptions): HoopError {
  return new HoopError("unavailable", message, options);
}
/** The system is not in the state the operation needs. */
export function failedPrecondition(message: string, options?: HoopErrorOptions): HoopError {
  return new HoopError("failed_precondition", message, options);
}
/** A size or count limit was passed. */
export function resourceExhausted(message: string, options?: HoopErrorOptions): HoopError {
  return new HoopError("resource_exhausted", message, options);
}

/** True when `code` is one of the {@linkcode ErrorCode}s. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

/** Find the ErrorCode for a gRPC status number, `internal` when unknown. */
export function errorCodeFromGrpc(status: number): ErrorCode {
  for (const [code, m] of Object.entries(ERROR_CODES)) {
    if (m.grpc === status) return code as ErrorCode;
  }
  return "internal";
}

/**
 * The last net under the gateway and the agent: a rejection nobody handled,
 * or an exception thrown from a callback, is logged with its stack and the
 * process keeps serving everyone else. Every relay and handler owns its own
 * errors (that is the fix); this guard exists so that a bug missed there
 * costs one session, not every user's.
 *
 * @module
 */
import type { Logger } from "./log.ts";

/** Install the guard; returns a function that removes it (tests). */
export function installProcessGuard(log: Logger): () => void {
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    log.error("unhandled rejection (a bug: please report it); the process keeps serving", {
      err: describe(e.reason),
    });
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    log.error("uncaught exception (a bug: please report it); the process keeps serving", {
      err: describe(e.error ?? e.message),
    });
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}

function describe(reason: unknown): string {
  if (reason instanceof Error) return reason.stack ?? `${reason.name}: ${reason.message}`;
  return String(reason);
}

/** A short lower-case reason for a network error (`connection refused`), for messages. */
export function describeNetError(err: unknown): string {
  if (err instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (err instanceof Deno.errors.TimedOut) return "timed out";
  if (err instanceof Deno.errors.ConnectionReset) return "connection reset";
  if (err instanceof Deno.errors.NotFound) return "host not found";
  if (err instanceof Error) {
    return err.message.replace(/\s*\(os error \d+\)$/, "").replace(/^./, (c) => c.toLowerCase());
  }
  return String(err);
}

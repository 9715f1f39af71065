/**
 * A view of a connection whose reads stop at a byte budget, so a one-shot
 * run cannot make the gateway hold an unbounded answer in memory.
 *
 * @module
 */

/** Reading past the budget: the caller cuts the session and says the output was too long. */
export class OutputCapError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the output passed ${maxBytes} bytes`);
    this.name = "OutputCapError";
  }
}

/**
 * `conn` with a `read` that throws {@linkcode OutputCapError} once more than
 * `maxBytes` have been read; every other member is the connection's own.
 */
export function cappedConn(conn: Deno.Conn, maxBytes: number): Deno.Conn {
  let total = 0;
  const read = async (p: Uint8Array): Promise<number | null> => {
    const n = await conn.read(p);
    if (n !== null) {
      total += n;
      if (total > maxBytes) throw new OutputCapError(maxBytes);
    }
    return n;
  };
  return new Proxy(conn, {
    get(target, key) {
      if (key === "read") return read;
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

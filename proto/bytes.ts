/**
 * Byte-stream helpers every role shares: the reader and writer shapes of a
 * `Deno.Conn`, exact reads, complete writes and quiet closes. One home, so a
 * fix to partial-write or end-of-stream handling reaches every protocol.
 *
 * @module
 */

/** What a readable connection needs to offer (a `Deno.Conn` does). */
export interface ByteReader {
  read(p: Uint8Array): Promise<number | null>;
}

/** What a writable connection needs to offer (a `Deno.Conn` does). */
export interface ByteWriter {
  write(p: Uint8Array): Promise<number>;
}

/** Fill `buf` from `r`; resolves how many bytes arrived before end of stream. */
export async function fillBuffer(r: ByteReader, buf: Uint8Array): Promise<number> {
  let off = 0;
  while (off < buf.length) {
    const got = await r.read(buf.subarray(off));
    if (got === null) break;
    off += got;
  }
  return off;
}

/**
 * Read exactly `n` bytes. Resolves `null` on end of stream before the first
 * byte (a clean close between messages); throws `Deno.errors.UnexpectedEof`
 * on end of stream part way, naming `what` was being read.
 */
export async function readFull(
  r: ByteReader,
  n: number,
  what = "data",
): Promise<Uint8Array<ArrayBuffer> | null> {
  const buf = new Uint8Array(n);
  const got = await fillBuffer(r, buf);
  if (got === n) return buf;
  if (got === 0) return null;
  throw new Deno.errors.UnexpectedEof(
    `Cannot read ${what}: the stream ended after ${got} of ${n} bytes`,
  );
}

/** Write all of `bytes`: Deno's `write` may take less than it is given. */
export async function writeAll(w: ByteWriter, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await w.write(bytes.subarray(off));
}

/** Close `c` if it is still open; a resource already closed is not an error. */
export function closeQuietly(c: { close(): void } | undefined): void {
  try {
    c?.close();
  } catch {
    // BadResource: already closed by the peer's loop or the caller.
  }
}

/**
 * Run `step` with `c` closed if `signal` aborts first, so that a read or
 * write it awaits ends: a peer that accepts and then stays silent must not
 * hold the caller past its deadline.
 */
export async function closeOnAbort<T>(
  c: { close(): void },
  signal: AbortSignal,
  step: () => Promise<T>,
): Promise<T> {
  const onAbort = () => closeQuietly(c);
  signal.addEventListener("abort", onAbort);
  try {
    return await step();
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Turn Nagle's algorithm off where the connection allows it (a TLS conn may
 * not): with it on, a relay adds ~29 ms per PostgreSQL round trip.
 */
export function setNoDelay(conn: Deno.Conn): void {
  const c = conn as Partial<Deno.TcpConn>;
  if (typeof c.setNoDelay !== "function") return;
  try {
    c.setNoDelay(true);
  } catch {
    // Already closed by the peer: whoever reads next will see it.
  }
}

/** Join byte arrays into one. */
export function concatBytes(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

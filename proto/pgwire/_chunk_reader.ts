/**
 * A test reader over fixed bytes that hands out at most `step` bytes per
 * read, to prove the pgwire readers cope with any split of the stream.
 *
 * @module
 */
import type { ByteReader } from "../bytes.ts";

/** A reader over `data` returning at most `step` bytes per `read()`. */
export function chunkReader(data: Uint8Array, step: number): ByteReader {
  let off = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (off >= data.length) return Promise.resolve(null);
      const n = Math.min(step, p.length, data.length - off);
      p.set(data.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
  };
}

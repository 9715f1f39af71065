/**
 * The audit spool: a local append-only file of session writes the store
 * could not take (events and session ends), kept under the gateway's data
 * dir (mode 0600: it holds the audit trail) until they are replayed.
 *
 * One JSON object per line, in the order the writes were issued. Appends are
 * written and fsync'd in batches: many sessions writing at once cost one
 * `fdatasync` per batch, and an append resolves only once its line is on
 * disk, so a session reported closed is durable even if the gateway then
 * dies. The file is bounded by `maxBytes`; an append that would pass the
 * bound is refused ({@linkcode SpoolFullError}) and nothing is half-written.
 *
 * @module
 */
import { join } from "node:path";
import { decodeBase64, encodeBase64 } from "../../proto/base64.ts";
import { HoopError } from "../../proto/errors.ts";
import type {
  SessionEnd,
  SessionEvent,
  SessionEventKind,
  SessionProgress,
} from "../store/store.ts";

/** Default bound of the spool file (`HOOP_AUDIT_SPOOL_MAX_BYTES`). */
export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;

/** The spool's file name inside the data dir. */
export const SPOOL_FILE = "audit-spool.jsonl";

/** One spooled write. */
export type SpoolEntry =
  | { op: "events"; sid: string; events: SessionEvent[] }
  | { op: "progress"; sid: string; progress: SessionProgress }
  | { op: "finish"; sid: string; end: SessionEnd };

/** The spool is at its bound: the write was not kept. */
export class SpoolFullError extends HoopError {
  constructor(maxBytes: number) {
    super(
      "resource_exhausted",
      `Cannot spool audit records: the spool is at its limit of ${maxBytes} bytes`,
    );
    this.name = "SpoolFullError";
  }
}

interface Pending {
  line: Uint8Array;
  resolve(): void;
  reject(err: unknown): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeEntry(e: SpoolEntry): Uint8Array {
  const obj = e.op === "events"
    ? {
      op: e.op,
      sid: e.sid,
      events: e.events.map((ev) => ({
        seq: ev.seq,
        time: ev.time,
        kind: ev.kind,
        data: encodeBase64(ev.data),
      })),
    }
    : e;
  return encoder.encode(JSON.stringify(obj) + "\n");
}

function decodeEntry(line: string): SpoolEntry {
  const obj = JSON.parse(line);
  if (obj.op === "events") {
    return {
      op: "events",
      sid: String(obj.sid),
      events: (obj.events as { seq: number; time: string; kind: string; data: string }[]).map((
        ev,
      ) => ({
        seq: ev.seq,
        time: ev.time,
        kind: ev.kind as SessionEventKind,
        data: decodeBase64(ev.data),
      })),
    };
  }
  if (obj.op === "finish") {
    return { op: "finish", sid: String(obj.sid), end: obj.end as SessionEnd };
  }
  if (obj.op === "progress") {
    return { op: "progress", sid: String(obj.sid), progress: obj.progress as SessionProgress };
  }
  throw new Error(`unknown spool entry "${String(obj.op)}"`);
}

async function writeFully(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/**
 * The spool file of one gateway. Every file operation runs on one chain, so
 * a rewrite after replay never races an append.
 */
export class AuditSpool {
  readonly path: string;
  readonly maxBytes: number;
  #size = 0;
  #queue: Pending[] = [];
  #scheduled = false;
  #chain: Promise<void> = Promise.resolve();

  private constructor(path: string, maxBytes: number, size: number) {
    this.path = path;
    this.maxBytes = maxBytes;
    this.#size = size;
  }

  /** Open (or create) the spool in `dataDir`. */
  static async open(dataDir: string, maxBytes = DEFAULT_SPOOL_MAX_BYTES): Promise<AuditSpool> {
    const path = join(dataDir, SPOOL_FILE);
    let size = 0;
    try {
      size = (await Deno.stat(path)).size;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return new AuditSpool(path, maxBytes, size);
  }

  /** Bytes in the file, including appends not yet synced. */
  get size(): number {
    return this.#size;
  }

  /** True when nothing is spooled. */
  get empty(): boolean {
    return this.#size === 0;
  }

  /** Append `entry`; resolves once it is on disk. Throws {@linkcode SpoolFullError} at the bound. */
  append(entry: SpoolEntry): Promise<void> {
    const line = encodeEntry(entry);
    if (this.#size + line.length > this.maxBytes) {
      return Promise.reject(new SpoolFullError(this.maxBytes));
    }
    this.#size += line.length;
    const done = new Promise<void>((resolve, reject) => {
      this.#queue.push({ line, resolve, reject });
    });
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#chain = this.#chain.then(() => this.#writeBatch());
    }
    return done;
  }

  /** Write the queued lines with one fsync. */
  async #writeBatch(): Promise<void> {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    try {
      using file = await Deno.open(this.path, { append: true, create: true, mode: 0o600 });
      for (const p of batch) await writeFully(file, p.line);
      await file.syncData();
      for (const p of batch) p.resolve();
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  /** Wait until every append so far is on disk (or failed). */
  async settled(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.#chain) {
      seen = this.#chain;
      await seen;
    }
  }

  /**
   * Every spooled entry in order. Lines that cannot be read (a torn last
   * line after a crash mid-write) are counted as `corrupt` so the caller can
   * report them; everything before and after is kept.
   */
  async read(): Promise<{ entries: SpoolEntry[]; corrupt: number }> {
    await this.settled();
    return await this.#readFile();
  }

  async #readFile(): Promise<{ entries: SpoolEntry[]; corrupt: number }> {
    let text: string;
    try {
      text = decoder.decode(await Deno.readFile(this.path));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return { entries: [], corrupt: 0 };
      throw err;
    }
    const entries: SpoolEntry[] = [];
    let corrupt = 0;
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        entries.push(decodeEntry(line));
      } catch {
        corrupt++;
      }
    }
    return { entries, corrupt };
  }

  /**
   * Drop the first `count` entries (they reached the store), keeping any
   * appended since: the rest is written to a new file, synced, and renamed
   * over the old one, so a crash leaves one file or the other, whole.
   */
  dropFirst(count: number): Promise<void> {
    const run = this.#chain.then(async () => {
      const { entries } = await this.#readFile();
      const rest = entries.slice(count).map(encodeEntry);
      const tmp = this.path + ".tmp";
      {
        using file = await Deno.open(tmp, {
          write: true,
          create: true,
          truncate: true,
          mode: 0o600,
        });
        for (const b of rest) await writeFully(file, b);
        await file.syncData();
      }
      await Deno.rename(tmp, this.path);
      let size = 0;
      for (const b of rest) size += b.length;
      for (const p of this.#queue) size += p.line.length;
      this.#size = size;
    });
    this.#chain = run.catch(() => {});
    return run;
  }
}

/**
 * Session events stored a batch per row (`session_event_batches`): the
 * recorder flushes a session's events every 100 ms, and one row per flush
 * instead of one per event took the store's share of a `pgbench -S`
 * transaction through the gateway from ~25 us of CPU to a few (one SQLite
 * row costs ~8-10 us here, whatever its size).
 *
 * Layout, big-endian: a version byte, then per event `seq` (u32), the
 * kind's and the time's lengths (u8 each) and bytes (ASCII), the data's
 * length (u32) and bytes.
 *
 * @module
 */
import type { SessionEvent, SessionEventKind } from "./store.ts";

const FORMAT_VERSION = 1;
const EVENT_HEAD_BYTES = 4 + 1 + 1;

/**
 * Largest encoded batch in one row; a flush carrying more (a replayed spool,
 * a burst of output) is split into several rows.
 */
export const MAX_EVENT_BATCH_BYTES = 1024 * 1024;

/** A stored batch that cannot be read back (a damaged row). */
export class EventBatchError extends Error {
  constructor(message: string) {
    super(`Cannot read stored session events: ${message}`);
    this.name = "EventBatchError";
  }
}

/** Write `text` (ASCII, at most 255 characters) at `off` of `out`; returns its length. */
function writeAscii(out: Uint8Array, off: number, text: string, what: string): number {
  if (text.length > 255) throw new RangeError(`session event ${what} longer than 255: ${text}`);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) throw new RangeError(`session event ${what} is not ASCII: ${text}`);
    out[off + i] = c;
  }
  return text.length;
}

function asciiText(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function encodedSize(ev: SessionEvent): number {
  return EVENT_HEAD_BYTES + ev.kind.length + ev.time.length + 4 + ev.data.length;
}

/**
 * Split `events` (in the caller's order) into runs of at most
 * {@linkcode MAX_EVENT_BATCH_BYTES} encoded; an event larger than that is a
 * run of its own.
 */
export function splitEventBatches(events: readonly SessionEvent[]): SessionEvent[][] {
  const runs: SessionEvent[][] = [];
  let run: SessionEvent[] = [];
  let size = 1;
  for (const ev of events) {
    const n = encodedSize(ev);
    if (run.length > 0 && size + n > MAX_EVENT_BATCH_BYTES) {
      runs.push(run);
      run = [];
      size = 1;
    }
    run.push(ev);
    size += n;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** Lowest and highest `seq` of `events` (a loop: a run may hold tens of thousands). */
export function seqRange(events: readonly SessionEvent[]): { first: number; last: number } {
  let first = Infinity;
  let last = -Infinity;
  for (const ev of events) {
    if (ev.seq < first) first = ev.seq;
    if (ev.seq > last) last = ev.seq;
  }
  return { first, last };
}

/** Encode `events` as one stored batch. */
export function encodeEventBatch(events: readonly SessionEvent[]): Uint8Array<ArrayBuffer> {
  let size = 1;
  for (const ev of events) size += encodedSize(ev);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = FORMAT_VERSION;
  let off = 1;
  // Written in place: two small arrays per event for the kind and the time were a third of
  // this function's cost.
  for (const ev of events) {
    view.setUint32(off, ev.seq);
    const head = off;
    off += EVENT_HEAD_BYTES;
    out[head + 4] = writeAscii(out, off, ev.kind, "kind");
    off += ev.kind.length;
    out[head + 5] = writeAscii(out, off, ev.time, "time");
    off += ev.time.length;
    view.setUint32(off, ev.data.length);
    off += 4;
    out.set(ev.data, off);
    off += ev.data.length;
  }
  return out;
}

/**
 * Decode a stored batch. Data arrays are fresh plain `Uint8Array`s (never
 * views of `bytes`, which may be a driver's Buffer). Throws
 * {@linkcode EventBatchError} when the bytes are not a whole batch.
 */
export function decodeEventBatch(bytes: Uint8Array): SessionEvent[] {
  if (bytes.length < 1 || bytes[0] !== FORMAT_VERSION) {
    throw new EventBatchError(`unknown batch format ${bytes[0] ?? "(empty)"}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: SessionEvent[] = [];
  let off = 1;
  const need = (n: number) => {
    if (off + n > bytes.length) {
      throw new EventBatchError(`batch ends inside an event at byte ${off} of ${bytes.length}`);
    }
  };
  while (off < bytes.length) {
    need(EVENT_HEAD_BYTES);
    const seq = view.getUint32(off);
    const kindLen = bytes[off + 4];
    const timeLen = bytes[off + 5];
    off += EVENT_HEAD_BYTES;
    need(kindLen + timeLen + 4);
    const kind = asciiText(bytes.subarray(off, off + kindLen)) as SessionEventKind;
    off += kindLen;
    const time = asciiText(bytes.subarray(off, off + timeLen));
    off += timeLen;
    const dataLen = view.getUint32(off);
    off += 4;
    need(dataLen);
    const data = new Uint8Array(dataLen);
    data.set(bytes.subarray(off, off + dataLen));
    off += dataLen;
    events.push({ seq, time, kind, data });
  }
  return events;
}

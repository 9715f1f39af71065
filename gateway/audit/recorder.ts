/**
 * The audit recorder of one session: events are appended to the store in
 * chunks as they happen (never buffered to the end), the recorded data is
 * capped, and `finish` makes the session row durable before the caller tells
 * the client that the session closed.
 *
 * @module
 */
import type { Logger } from "../../proto/log.ts";
import type { AuditSink } from "./audit_writer.ts";
import type { SessionEnd, SessionEvent, SessionEventKind } from "../store/store.ts";

/** Default cap of recorded input/output per session (`HOOP_AUDIT_MAX_BYTES`). */
export const DEFAULT_AUDIT_MAX_BYTES = 1024 * 1024;

/** Pending events are written at least this often. */
const FLUSH_INTERVAL_MS = 100;

/** ...or as soon as this much is pending. */
const FLUSH_THRESHOLD_BYTES = 64 * 1024;

/**
 * A running session's byte counts are saved this often (when they moved), so
 * a gateway that dies leaves the bytes seen so far in the record.
 */
export const PROGRESS_INTERVAL_MS = 5_000;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** Encode `texts` (index in `events` -> text) as UTF-8 views of one shared buffer. */
function encodeTexts(events: SessionEvent[], texts: Map<number, string>): void {
  let room = 0;
  for (const text of texts.values()) room += text.length * 3; // UTF-8's worst case per UTF-16 unit
  const arena = new Uint8Array(room);
  const ends: number[] = [];
  let off = 0;
  for (const text of texts.values()) {
    off += encoder.encodeInto(text, arena.subarray(off)).written;
    ends.push(off);
  }
  // Right-sized, so that events the spool keeps through a store outage hold no slack.
  const exact = arena.slice(0, off);
  let start = 0;
  let n = 0;
  for (const i of texts.keys()) {
    events[i].data = exact.subarray(start, ends[n]);
    start = ends[n++];
  }
}

let isoMs = -1;
let isoText = "";

/**
 * The time of an event, as ISO text. Formatting a Date costs about a
 * microsecond, and a busy session records thousands of statements a second,
 * most within the same millisecond as the previous one: reuse that text.
 */
function eventTime(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** Records one session's events and totals. */
export class SessionRecorder {
  readonly sessionId: string;
  /** Client → resource bytes. */
  bytesIn = 0;
  /** Resource → client bytes. */
  bytesOut = 0;
  #store: AuditSink;
  #log: Logger;
  #maxBytes: number;
  #recorded = 0;
  #truncated = false;
  #seq = 0;
  #pending: SessionEvent[] = [];
  /** Text of the pending statements, by index in `#pending` (their `data` is set at flush). */
  #pendingText = new Map<number, string>();
  #pendingBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #finished = false;
  /** Set by the first `finish`; later callers wait for the same write. */
  #finishing: Promise<void> | undefined;
  #progressTimer: ReturnType<typeof setInterval>;
  #savedIn = 0;
  #savedOut = 0;

  constructor(store: AuditSink, sessionId: string, opts: { log: Logger; maxBytes?: number }) {
    this.#store = store;
    this.sessionId = sessionId;
    this.#log = opts.log;
    this.#maxBytes = opts.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES;
    this.#progressTimer = setInterval(() => this.#saveProgress(), PROGRESS_INTERVAL_MS);
  }

  #saveProgress(): void {
    if (this.bytesIn === this.#savedIn && this.bytesOut === this.#savedOut) return;
    this.#savedIn = this.bytesIn;
    this.#savedOut = this.bytesOut;
    const progress = { bytesIn: this.bytesIn, bytesOut: this.bytesOut, truncated: this.#truncated };
    // Chained behind the event flushes: the row's counts never run ahead of its events.
    this.#flushing = this.#flushing.then(() =>
      this.#store.recordSessionProgress(this.sessionId, progress).catch((err) => {
        this.#log.warn("cannot save session progress", { sid: this.sessionId, err });
      })
    );
  }

  /** True once recorded data passed the cap. */
  get truncated(): boolean {
    return this.#truncated;
  }

  /**
   * Record an event. Input and output past the cap are dropped and the
   * session flagged truncated. Statements (`sql`) are the audit itself: every
   * one is kept whatever the cap (each is already bounded by the statement
   * tap, which cuts an oversize statement with a marker), and they do not
   * count against the cap.
   */
  record(kind: SessionEventKind, data: Uint8Array | string): void {
    if (this.#finished) return;
    if (kind === "sql") {
      if (typeof data === "string") this.#pushText(data);
      else this.#push(kind, data.slice());
      return;
    }
    let bytes = typeof data === "string" ? encoder.encode(data) : data.slice();
    const room = this.#maxBytes - this.#recorded;
    if (room <= 0) {
      this.#markTruncated();
      return;
    }
    if (bytes.length > room) {
      bytes = bytes.subarray(0, room);
      this.#markTruncated();
    }
    this.#recorded += bytes.length;
    this.#push(kind, bytes);
  }

  #markTruncated(): void {
    if (this.#truncated) return;
    this.#truncated = true;
    this.#push("info", encoder.encode(`recording truncated at ${this.#maxBytes} bytes`));
  }

  #push(kind: SessionEventKind, data: Uint8Array): void {
    this.#pending.push({ seq: this.#seq++, time: eventTime(), kind, data });
    this.#pendingBytes += data.length;
    this.#schedule();
  }

  /**
   * A statement waits as text and is encoded at flush, with the others, into
   * one buffer: a busy session records thousands a second, and one small
   * buffer per statement, held for the flush interval, cost the gateway
   * about 3 us of user CPU per statement more than this (pgbench -S -c 4
   * through the listener: 0.18-0.22 -> 0.16 s per 10,000 transactions).
   */
  #pushText(sql: string): void {
    this.#pending.push({ seq: this.#seq++, time: eventTime(), kind: "sql", data: EMPTY });
    this.#pendingText.set(this.#pending.length - 1, sql);
    this.#pendingBytes += sql.length;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#pendingBytes >= FLUSH_THRESHOLD_BYTES) void this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
    }
  }

  /** Write pending events; flushes are serialized so `seq` order holds. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#pending;
    if (batch.length === 0) return this.#flushing;
    if (this.#pendingText.size > 0) encodeTexts(batch, this.#pendingText);
    this.#pending = [];
    this.#pendingText = new Map();
    this.#pendingBytes = 0;
    this.#flushing = this.#flushing.then(() =>
      this.#store.appendSessionEvents(this.sessionId, batch).catch((err) => {
        this.#log.error("cannot append session events", { sid: this.sessionId, err });
      })
    );
    return this.#flushing;
  }

  /**
   * Flush everything and close the session row; idempotent. Every caller
   * returns only once the row is written (the first caller's end wins), so
   * any of them may report the session closed.
   */
  finish(end: Omit<SessionEnd, "bytesIn" | "bytesOut" | "truncated" | "endedAt">): Promise<void> {
    this.#finishing ??= this.#finish(end);
    return this.#finishing;
  }

  async #finish(
    end: Omit<SessionEnd, "bytesIn" | "bytesOut" | "truncated" | "endedAt">,
  ): Promise<void> {
    // Events recorded from here on would land after the closed row; the session is over.
    this.#finished = true;
    clearInterval(this.#progressTimer);
    await this.flush();
    try {
      await this.#store.finishSession(this.sessionId, {
        ...end,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        truncated: this.#truncated,
        endedAt: new Date().toISOString(),
      });
    } catch (err) {
      this.#log.error("cannot finish session", { sid: this.sessionId, err });
    }
  }
}

/**
 * The durable audit path between session recorders and the store. While the
 * store takes writes they go straight to it; the first write it cannot take
 * switches the gateway to spooling: that write and every later one go to the
 * local spool ({@linkcode AuditSpool}), in the order issued, and a retry loop
 * replays them, in order and exactly once, when the store answers again. Only
 * once the spool is empty do writes go straight to the store again, so no
 * session's records can overtake its own spooled ones.
 *
 * Exactly once: event batches are written in one transaction keyed by
 * (session, seq), so a batch replayed twice (a crash between the store's
 * commit and the spool's rewrite) is refused as a duplicate and skipped;
 * session ends and byte counts are plain updates, the same when repeated.
 *
 * @module
 */
import type { Logger } from "../../proto/log.ts";
import {
  type SessionEnd,
  type SessionEvent,
  type SessionProgress,
  type Store,
  StoreConflictError,
  StoreNotFoundError,
} from "../store/store.ts";
import { type AuditSpool, type SpoolEntry, SpoolFullError } from "./spool.ts";

/** How often a spooling gateway tries the store again. */
export const SPOOL_RETRY_INTERVAL_MS = 1_000;

/** What a session recorder writes to (a `Store` is one; so is {@linkcode AuditWriter}). */
export interface AuditSink {
  /** Append events in `seq` order; resolves once they are durable. */
  appendSessionEvents(sessionId: string, events: SessionEvent[]): Promise<void>;
  /** Save running byte counts (see `Store.recordSessionProgress`). */
  recordSessionProgress(sessionId: string, progress: SessionProgress): Promise<void>;
  /** Close the session row; resolves once it is durable. */
  finishSession(sessionId: string, end: SessionEnd): Promise<unknown>;
}

/** The audit path's state, for health checks and for refusing sessions. */
export type AuditHealth =
  | { state: "ok" }
  | { state: "spooling"; since: string; reason: string; spooledBytes: number }
  | { state: "full"; since: string; reason: string; spooledBytes: number };

/** Options of {@linkcode AuditWriter}. */
export interface AuditWriterOptions {
  log: Logger;
  retryIntervalMs?: number;
  /** Called once each time the spool reaches its bound: live sessions must end. */
  onFull?(reason: string): void;
}

/** Writes audit records to the store, or to the spool while the store is down. */
export class AuditWriter implements AuditSink {
  #store: Store;
  #spool: AuditSpool;
  #log: Logger;
  #retryMs: number;
  #onFull?: (reason: string) => void;
  #spooling = false;
  #full = false;
  #since = "";
  #reason = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #replaying: Promise<void> | undefined;
  #closed = false;

  constructor(store: Store, spool: AuditSpool, opts: AuditWriterOptions) {
    this.#store = store;
    this.#spool = spool;
    this.#log = opts.log;
    this.#retryMs = opts.retryIntervalMs ?? SPOOL_RETRY_INTERVAL_MS;
    this.#onFull = opts.onFull;
    // A spool left by an earlier run is replayed before anything else is written.
    if (!spool.empty) this.#enterSpooling("records spooled by an earlier run await replay");
  }

  /** Where the audit path stands. */
  get health(): AuditHealth {
    if (!this.#spooling) return { state: "ok" };
    return {
      state: this.#full ? "full" : "spooling",
      since: this.#since,
      reason: this.#reason,
      spooledBytes: this.#spool.size,
    };
  }

  appendSessionEvents(sessionId: string, events: SessionEvent[]): Promise<void> {
    return this.#write({ op: "events", sid: sessionId, events });
  }

  recordSessionProgress(sessionId: string, progress: SessionProgress): Promise<void> {
    return this.#write({ op: "progress", sid: sessionId, progress });
  }

  finishSession(sessionId: string, end: SessionEnd): Promise<void> {
    return this.#write({ op: "finish", sid: sessionId, end });
  }

  /**
   * Replay the spool now, if there is one (at start, before dangling sessions
   * are closed). Resolves when the spool is empty or the store refused again.
   */
  async replayNow(): Promise<void> {
    if (this.#spooling) await this.#replay();
  }

  /** Stop retrying; spooled records stay on disk for the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#replaying;
    await this.#spool.settled();
  }

  /** Never rejects: a write lands in the store or the spool, or is logged as lost. */
  async #write(entry: SpoolEntry): Promise<void> {
    if (!this.#spooling) {
      try {
        await this.#apply(entry, false);
        return;
      } catch (err) {
        if (!this.#spooling) this.#enterSpooling(`the store refused a write: ${message(err)}`);
      }
    }
    try {
      await this.#spool.append(entry);
    } catch (err) {
      if (err instanceof SpoolFullError) this.#enterFull(err.message);
      this.#log.error("audit record lost: neither the store nor the spool took it", {
        sid: entry.sid,
        op: entry.op,
        err,
      });
    }
  }

  /**
   * Write one entry to the store. Throws only when the store is down (or
   * failing): refusals that replaying would not change are logged here.
   */
  async #apply(entry: SpoolEntry, replay: boolean): Promise<void> {
    try {
      if (entry.op === "events") await this.#store.appendSessionEvents(entry.sid, entry.events);
      else if (entry.op === "progress") {
        await this.#store.recordSessionProgress(entry.sid, entry.progress);
      } else await this.#store.finishSession(entry.sid, entry.end);
    } catch (err) {
      if (err instanceof StoreConflictError && replay) return; // already applied before a crash
      if (err instanceof StoreNotFoundError || err instanceof StoreConflictError) {
        this.#log.warn("audit record refused by the store", { sid: entry.sid, op: entry.op, err });
        return;
      }
      throw err;
    }
  }

  #enterSpooling(reason: string): void {
    this.#spooling = true;
    this.#since = new Date().toISOString();
    this.#reason = reason;
    this.#log.error("audit store unavailable: spooling records locally", {
      reason,
      spool: this.#spool.path,
    });
    this.#schedule();
  }

  #enterFull(reason: string): void {
    if (this.#full) return;
    this.#full = true;
    this.#reason = reason;
    this.#log.error("audit spool full: live sessions end and new ones are refused", { reason });
    this.#onFull?.(reason);
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#replay();
    }, this.#retryMs);
  }

  #replay(): Promise<void> {
    this.#replaying ??= this.#replayOnce().finally(() => (this.#replaying = undefined));
    return this.#replaying;
  }

  async #replayOnce(): Promise<void> {
    try {
      for (;;) {
        const { entries, corrupt } = await this.#spool.read();
        if (corrupt > 0) {
          this.#log.error("audit spool lines unreadable: skipped", { count: corrupt });
        }
        let applied = 0;
        try {
          for (const e of entries) {
            await this.#apply(e, true);
            applied++;
          }
        } finally {
          if (applied > 0 || corrupt > 0) await this.#spool.dropFirst(applied);
        }
        // Same tick as the check: a write issued after it goes straight to the store.
        if (this.#spool.empty) {
          const was = this.#reason;
          this.#spooling = false;
          this.#full = false;
          this.#log.info("audit store back: spooled records replayed", {
            since: this.#since,
            was,
          });
          return;
        }
      }
    } catch (err) {
      this.#reason = this.#full ? this.#reason : `the store refused a write: ${message(err)}`;
      this.#schedule();
    }
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

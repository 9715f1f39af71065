/**
 * The durable audit path: each session's recorder ({@linkcode SessionRecorder}) writes through an
 * {@linkcode AuditWriter}, which writes to the store while it answers and to
 * a local append-only spool while it does not, replaying the spool in order,
 * exactly once, when the store is back. Nothing acknowledged is lost, and a
 * gateway that cannot record refuses new sessions instead of relaying them.
 *
 * @module
 */
export {
  type AuditHealth,
  type AuditSink,
  AuditWriter,
  type AuditWriterOptions,
  SPOOL_RETRY_INTERVAL_MS,
} from "./audit_writer.ts";
export { AuditSpool, DEFAULT_SPOOL_MAX_BYTES, SPOOL_FILE, SpoolFullError } from "./spool.ts";
export { DEFAULT_AUDIT_MAX_BYTES, PROGRESS_INTERVAL_MS, SessionRecorder } from "./recorder.ts";

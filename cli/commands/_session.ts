/**
 * Presentation of recorded sessions: durations, the details block and events
 * (the asciicast export is `proto/asciicast.ts`, shared with the gateway).
 */

import type { Session, SessionEvent } from "../../proto/api_types.ts";
import { renderTable } from "../render.ts";

/** Event data longer than this is abbreviated in the events table (the JSON output has it all). */
const MAX_EVENT_DATA_CHARS = 72;

/** `1.2s` under a minute, `3m04s` under an hour, then `2h05m`. */
export function formatDuration(ms: number): string {
  const tenths = Math.round(Math.max(0, ms) / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

/** The duration of a session, `undefined` while it is open. */
export function sessionDuration(
  session: Pick<Session, "started_at" | "ended_at">,
): string | undefined {
  if (!session.ended_at) return undefined;
  const ms = Date.parse(session.ended_at) - Date.parse(session.started_at);
  return Number.isFinite(ms) ? formatDuration(ms) : undefined;
}

/** One-line, escaped, abbreviated data for the events table. */
export function printableData(event: SessionEvent): string {
  if (event.data === undefined && event.data_b64 !== undefined) {
    const size = Math.floor(event.data_b64.replace(/=+$/, "").length * 3 / 4);
    return `<${size} bytes of binary data>`;
  }
  const escaped = JSON.stringify(event.data ?? "").slice(1, -1);
  const chars = [...escaped];
  if (chars.length <= MAX_EVENT_DATA_CHARS) return escaped;
  return chars.slice(0, MAX_EVENT_DATA_CHARS - 3).join("") + `... (${chars.length} chars)`;
}

/** The `key: value` block and events table of `hoop admin get session ID`. */
export function renderSessionDetails(session: Session, events: SessionEvent[]): string {
  const dash = (v: unknown) => v === null || v === undefined || v === "" ? "-" : String(v);
  const fields: [string, unknown][] = [
    ["ID", session.id],
    ["User", session.user],
    ["Connection", session.connection],
    ["Type", session.type],
    ["Agent", session.agent],
    ["Verb", session.verb],
    ["Status", session.status],
    ["Exit code", session.exit_code],
    ["Started", session.started_at],
    ["Ended", session.ended_at],
    ["Duration", sessionDuration(session)],
    ["Bytes in", session.bytes_in],
    ["Bytes out", session.bytes_out],
    ["Truncated", session.truncated ? "yes" : "no"],
    ["Error", session.error],
  ];
  const width = Math.max(...fields.map(([k]) => k.length)) + 2;
  let out = fields.map(([k, v]) => `${(k + ":").padEnd(width)}${dash(v)}\n`).join("");
  out += "\n";
  if (events.length === 0) return out + "No events recorded\n";
  out += `Events (${events.length}):\n`;
  out += renderTable<SessionEvent>([
    { header: "TIME", value: (e) => String(e.time) },
    { header: "KIND", value: (e) => e.kind },
    { header: "DATA", value: (e) => printableData(e) },
  ], events);
  return out;
}

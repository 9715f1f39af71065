/**
 * Console recordings as asciicast v2, the format asciinema plays: one
 * function shared by `hoop admin get session ID --cast` and the gateway's
 * `GET /api/sessions/{id}/cast`, so the CLI and the web console replay the
 * same file.
 *
 * @module
 */
import { decodeBase64 } from "./base64.ts";
import type { Session, SessionEvent } from "./api_types.ts";

/** Terminal size of a recording without a resize event. */
export const DEFAULT_CAST_SIZE = { width: 80, height: 24 };

/** An event's time in epoch milliseconds (the API sends ISO 8601; numbers are taken as ms). */
export function eventTimeMs(time: string | number): number {
  return typeof time === "number" ? time : Date.parse(time);
}

/** An event's data as text; binary data (`data_b64`) is decoded with replacement characters. */
export function eventText(event: SessionEvent): string {
  if (event.data !== undefined) return event.data;
  if (event.data_b64 === undefined) return "";
  return new TextDecoder().decode(decodeBase64(event.data_b64));
}

/**
 * An asciicast v2 recording of a console session: a header line, then one
 * `[seconds, code, data]` line per output (`o`), input (`i`) or resize (`r`,
 * `COLSxROWS`) event. The header's size is the first resize's (the gateway
 * records the console's initial size as one), else 80x24. Other event kinds
 * are not part of a terminal recording.
 */
export function toAsciicast(session: Pick<Session, "started_at">, events: SessionEvent[]): string {
  const terminal = events.filter((e) => e.kind === "o" || e.kind === "i" || e.kind === "r");
  let start = Date.parse(session.started_at);
  if (!Number.isFinite(start)) start = terminal.length ? eventTimeMs(terminal[0].time) : 0;
  let size = DEFAULT_CAST_SIZE;
  const firstResize = terminal.find((e) => e.kind === "r");
  const m = firstResize ? /^(\d+)x(\d+)$/.exec(eventText(firstResize).trim()) : null;
  if (m) size = { width: Number(m[1]), height: Number(m[2]) };
  const header = {
    version: 2,
    width: size.width,
    height: size.height,
    timestamp: Math.floor(start / 1000),
  };
  const lines = [JSON.stringify(header)];
  for (const e of terminal) {
    const seconds = Math.max(0, eventTimeMs(e.time) - start) / 1000;
    lines.push(JSON.stringify([Number(seconds.toFixed(6)), e.kind, eventText(e)]));
  }
  return lines.join("\n") + "\n";
}

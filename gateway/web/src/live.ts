/**
 * Live state from `GET /api/events` (Server-Sent Events): the caller's
 * connections and, for admins, agents and running sessions, replaced
 * whenever the gateway says they changed. EventSource reconnects by itself.
 *
 * @module
 */
import { signal } from "@preact/signals";
import type { Agent, Connection, Session } from "../../../proto/api_types.ts";

export const connections = signal<Connection[] | undefined>(undefined);
export const agents = signal<Agent[] | undefined>(undefined);
export const runningSessions = signal<Session[] | undefined>(undefined);
/** False while the event stream is down (the page says so instead of showing stale state silently). */
export const liveUp = signal(false);

let source: EventSource | undefined;

/** Open the stream (once per sign-in). */
export function startLive(): void {
  if (source) return;
  source = new EventSource("/api/events");
  source.onopen = () => (liveUp.value = true);
  source.onerror = () => (liveUp.value = false);
  source.addEventListener(
    "connections",
    (e) => (connections.value = JSON.parse((e as MessageEvent).data)),
  );
  source.addEventListener("agents", (e) => (agents.value = JSON.parse((e as MessageEvent).data)));
  source.addEventListener(
    "sessions",
    (e) => (runningSessions.value = JSON.parse((e as MessageEvent).data)),
  );
}

/** Close it (sign-out). */
export function stopLive(): void {
  source?.close();
  source = undefined;
  connections.value = agents.value = runningSessions.value = undefined;
  liveUp.value = false;
}

/**
 * Which agents hold a live control stream on this gateway. Kept behind an
 * interface so that scale-out can add a PostgreSQL-backed implementation (a
 * presence table plus LISTEN/NOTIFY) without touching the callers.
 *
 * @module
 */
import type { Packet } from "../proto/packet.ts";

/** Why the gateway ends an agent's stream. */
export type CloseReason = "revoked" | "shutdown" | "replaced" | "heartbeat_timeout";

/** The gateway's handle on one agent's control stream. */
export interface AgentLink {
  readonly agentId: string;
  readonly agentName: string;
  /** True when the agent authenticated with the org key. */
  readonly viaOrgKey: boolean;
  /** Queue a packet on the stream; false when the stream is gone. */
  send(packet: Packet): boolean;
  /** End the stream, telling the agent why. */
  close(reason: CloseReason): void;
}

/** Registry of live agent links. */
export interface PresenceRegistry {
  /** Add a link; returns the link it replaced for the same agent, if any. */
  add(link: AgentLink): AgentLink | undefined;
  /** Remove this exact link (a newer one for the same agent stays). */
  remove(link: AgentLink): void;
  /** The live link of an agent, or `undefined`. */
  get(agentId: string): AgentLink | undefined;
  /** Every live link. */
  all(): AgentLink[];
}

/** In-memory presence for a single gateway. */
export class MemoryPresence implements PresenceRegistry {
  #links = new Map<string, AgentLink>();

  add(link: AgentLink): AgentLink | undefined {
    const prior = this.#links.get(link.agentId);
    this.#links.set(link.agentId, link);
    return prior;
  }

  remove(link: AgentLink): void {
    if (this.#links.get(link.agentId) === link) this.#links.delete(link.agentId);
  }

  get(agentId: string): AgentLink | undefined {
    return this.#links.get(agentId);
  }

  all(): AgentLink[] {
    return [...this.#links.values()];
  }
}

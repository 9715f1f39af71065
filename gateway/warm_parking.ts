/**
 * Warm data connections: an agent (or a `hoop connect`) dials the data port
 * ahead of demand, finishes TCP and TLS, and parks the connection with a warm
 * key instead of a ticket. When a session comes, the parked connection sends
 * the ordinary header with the session's ticket, so the hot path pays no
 * handshake. A warm key only lets its holder park connections: the session
 * still needs its one-time ticket, so an unused warm connection carries no
 * authority.
 *
 * Keys are issued per control stream (agents) and revoked with it, which
 * closes every connection parked under them.
 *
 * @module
 */
import { encodeBase64Url } from "../proto/base64.ts";
import { closeQuietly } from "../proto/bytes.ts";
import { DataHeaderError, type DataSide, DataStatus } from "../proto/data_header.ts";
import { generateTicket } from "../proto/keys.ts";

/** Connections one key may have parked at once; the next is refused. */
export const MAX_WARM_PER_KEY = 8;

/** Parked connections on the whole gateway; past it new ones are refused. */
export const MAX_WARM_CONNECTIONS = 8_192;

/**
 * A parked connection must send its session header within this; else it is
 * closed. Holders refresh theirs before (agents at `WARM_MAX_AGE_MS`).
 */
export const WARM_IDLE_MS = 60_000;

/** Who parks under a key, and what they have parked. */
export interface WarmOwner {
  /** The side the parked connections will present their ticket for. */
  side: DataSide;
  /** For logs: the agent or user id. */
  ownerId: string;
  conns: Set<Deno.Conn>;
}

/** The gateway's warm keys and the connections parked under them. */
export class WarmParking {
  #owners = new Map<string, WarmOwner>();
  /** `side:ownerId` → key, for {@linkcode keyFor}. */
  #keyOf = new Map<string, string>();
  #parked = 0;

  /** Connections parked right now (for tests and the bench). */
  get parked(): number {
    return this.#parked;
  }

  /** A new key (base64url) for `ownerId`'s connections of `side`. */
  issue(ownerId: string, side: DataSide): string {
    const key = encodeBase64Url(generateTicket());
    this.#owners.set(key, { side, ownerId, conns: new Set() });
    return key;
  }

  /**
   * The key of `ownerId`'s connections of `side`, issued on first use (users:
   * one key each, for as long as the gateway runs or until revoked).
   */
  keyFor(ownerId: string, side: DataSide): string {
    const known = this.#keyOf.get(`${side}:${ownerId}`);
    if (known) return known;
    const key = this.issue(ownerId, side);
    this.#keyOf.set(`${side}:${ownerId}`, key);
    return key;
  }

  /** Revoke every key of `ownerId` (a deleted user). */
  revokeOwner(ownerId: string): void {
    for (const [ownerKey, key] of [...this.#keyOf]) {
      if (ownerKey.endsWith(`:${ownerId}`)) this.revoke(key);
    }
  }

  /** Forget `key` and close what is parked under it. */
  revoke(key: string): void {
    const owner = this.#owners.get(key);
    if (!owner) return;
    this.#owners.delete(key);
    this.#keyOf.delete(`${owner.side}:${owner.ownerId}`);
    for (const conn of owner.conns) closeQuietly(conn);
  }

  /**
   * Park `conn` under the key it presented. Throws {@linkcode DataHeaderError}
   * (answered as a refusal) for an unknown key or a full lot.
   */
  park(key: Uint8Array, conn: Deno.Conn): WarmOwner {
    const owner = this.#owners.get(encodeBase64Url(key));
    if (!owner) {
      throw new DataHeaderError("Cannot park data connection: unknown or revoked warm key", {
        status: DataStatus.BAD_TICKET,
      });
    }
    if (owner.conns.size >= MAX_WARM_PER_KEY || this.#parked >= MAX_WARM_CONNECTIONS) {
      throw new DataHeaderError(
        `Cannot park data connection: ${owner.conns.size} are parked for this key (at most ${MAX_WARM_PER_KEY}) and ${this.#parked} in all (at most ${MAX_WARM_CONNECTIONS})`,
        { status: DataStatus.BAD_TICKET },
      );
    }
    owner.conns.add(conn);
    this.#parked++;
    return owner;
  }

  /** `conn` left the lot (its header came, it closed, or it timed out). */
  release(owner: WarmOwner, conn: Deno.Conn): void {
    if (owner.conns.delete(conn)) this.#parked--;
  }
}

/**
 * One-time data tickets: each binds one data connection to one side of one
 * session for {@linkcode TICKET_TTL_MS}. A ticket is spent only by the side it
 * was issued to, so a stranger presenting it on the wrong side cannot burn it.
 *
 * @module
 */
import { encodeBase64Url } from "../../proto/base64.ts";
import type { DataSide } from "../../proto/data_header.ts";
import { generateTicket } from "../../proto/keys.ts";

/** How long a ticket may wait before its data connection arrives. */
export const TICKET_TTL_MS = 10_000;

interface TicketEntry {
  sid: string;
  side: DataSide;
  expiresAt: number;
}

/** The tickets not yet used or expired. */
export class TicketBook {
  #tickets = new Map<string, TicketEntry>();

  /** Tickets outstanding (bounded by the sessions waiting to pair). */
  get size(): number {
    return this.#tickets.size;
  }

  /** A new ticket (base64url) for `side` of session `sid`. */
  issue(sid: string, side: DataSide): string {
    const ticket = encodeBase64Url(generateTicket());
    this.#tickets.set(ticket, { sid, side, expiresAt: Date.now() + TICKET_TTL_MS });
    // Expired tickets are also refused on use; this bounds the map for unused ones.
    setTimeout(() => this.#tickets.delete(ticket), TICKET_TTL_MS + 1000);
    return ticket;
  }

  /**
   * Spend `ticket` presented for `side`: the session id, or `undefined` when
   * the ticket is unknown, expired, used, or meant for the other side.
   */
  take(ticket: Uint8Array, side: DataSide): string | undefined {
    const key = encodeBase64Url(ticket);
    const entry = this.#tickets.get(key);
    if (!entry || entry.side !== side) return undefined;
    this.#tickets.delete(key);
    if (entry.expiresAt < Date.now()) return undefined;
    return entry.sid;
  }
}

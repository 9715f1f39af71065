/**
 * A session the broker is holding, and its states:
 *
 * `pending` (tickets out, waiting for both data connections; its row is
 * written meanwhile, and it becomes active only once the row is there) →
 * `active` (relaying) → `done`. A pending session fails straight to `done`
 * (the waiting sides are refused with the reason); an active one is cut by
 * closing its sockets, and the relay records the reason as it ends.
 *
 * @module
 */
import type { SessionRecorder } from "../audit/mod.ts";
import type { Connection, SessionVerb } from "../store/store.ts";

/** Where a session is in its life. */
export type SessionState = "pending" | "active" | "done";

/** A client socket the gateway accepted itself (no data header, no status byte). */
export interface LocalClient {
  conn: Deno.Conn;
  /** Bytes sent to the agent before the relay starts, as if the client sent them. */
  prelude?: Uint8Array;
  /** Tell the client, in its own protocol, why the session cannot start. */
  refuse(message: string): Promise<void>;
  /**
   * Carry the agent's first answer to the client before the relay becomes a
   * plain splice (the PostgreSQL listener swaps the backend's cancel key for
   * its own there); resolves with the bytes written to the client.
   */
  greet?(agent: Deno.Conn): Promise<number>;
  /** The relay has ended (called once, after `greet`, whatever the outcome). */
  ended?(): void;
}

/** One session between `open()` and its record's close. */
export interface LiveSession {
  id: string;
  agentId: string;
  userId: string;
  /** The token it was opened with, when there was one (not an account password). */
  tokenId?: string;
  /** The connection it runs on, by id and name: access is reviewed against it. */
  connectionId: string;
  connectionName: string;
  type: Connection["type"];
  verb: SessionVerb;
  recorder: SessionRecorder;
  /** Resolves once the session's row is written: true, or false when it could not be. */
  recorded: Promise<boolean>;
  client?: Deno.Conn;
  agent?: Deno.Conn;
  local?: LocalClient;
  state: SessionState;
  /** Set when the session is ended for a reason the client should read. */
  endReason?: string;
  /** True once an active relay was cut (revocation, deleted user, shutdown). */
  cut?: boolean;
  timer?: ReturnType<typeof setTimeout>;
  /** Called when an active session is cut (someone waiting to learn whether it will be). */
  onCut?: () => void;
}

/** An open session as an access review sees it: whose it is and on what. */
export type OpenSessionView = Pick<
  LiveSession,
  "id" | "userId" | "connectionId" | "connectionName"
>;

/** An error as one line for a session's close reason. */
export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

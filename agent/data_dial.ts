/**
 * The agent's side of a data connection: present the agent ticket on a warm
 * connection when the pool has one (agent/warm_pool.ts), else on a freshly
 * dialed one, and wait for the gateway to pair it with the client.
 *
 * @module
 */
import { DataSide } from "../proto/data_header.ts";
import { DataRefusedError, type DataTarget, dialDataPort } from "../proto/data_dial.ts";
import { unavailable } from "../proto/errors.ts";
import type { WarmPool } from "../proto/warm_pool.ts";

export type { DataTarget };

/** How long the agent waits for the client side to arrive. */
const PAIR_WAIT_MS = 20_000;

/** Present the ticket (warm connection first); resolves once paired. */
export async function dialData(
  target: DataTarget,
  ticket: string,
  pool?: WarmPool,
): Promise<Deno.Conn> {
  try {
    return await dialDataPort(target, DataSide.AGENT, ticket, {
      pairWaitMs: PAIR_WAIT_MS,
      warm: pool?.take(),
    });
  } catch (err) {
    if (err instanceof DataRefusedError) {
      throw unavailable(`The gateway refused the data connection: ${err.reason}`, { cause: err });
    }
    throw err;
  }
}

/**
 * The agent's side of a data connection: dial the gateway's data port with
 * the agent ticket and wait for the gateway to pair it with the client.
 *
 * @module
 */
import { DataSide } from "../proto/data_header.ts";
import { DataRefusedError, type DataTarget, dialDataPort } from "../proto/data_dial.ts";
import { unavailable } from "../proto/errors.ts";

export type { DataTarget };

/** How long the agent waits for the client side to arrive. */
const PAIR_WAIT_MS = 20_000;

/** Dial the data port and present the ticket; resolves once paired. */
export async function dialData(target: DataTarget, ticket: string): Promise<Deno.Conn> {
  try {
    return await dialDataPort(target, DataSide.AGENT, ticket, { pairWaitMs: PAIR_WAIT_MS });
  } catch (err) {
    if (err instanceof DataRefusedError) {
      throw unavailable(`The gateway refused the data connection: ${err.reason}`, { cause: err });
    }
    throw err;
  }
}

/**
 * The relay of TCP-type sessions (postgres, tcp): a raw splice, with the
 * client's PostgreSQL statements tapped on their way to the agent, after a
 * local client's optional `greet` of the agent's first answer.
 *
 * @module
 */
import { StatementTap } from "../postgres/statement_tap.ts";
import { MysqlStatementTap } from "../mysql/statement_tap.ts";
import { type Direction, splice, type SpliceResult } from "../../proto/splice.ts";
import type { LiveSession } from "./live_session.ts";

/** How a byte relay ended: the splice's result, and whether the agent's side hung up first. */
export interface ByteRelayResult extends SpliceResult {
  agentEndedFirst: boolean;
}

/** Splice `client` and `agent` until both directions end; resolves with how the splice ended. */
export async function relayBytes(
  session: LiveSession,
  client: Deno.Conn,
  agent: Deno.Conn,
): Promise<ByteRelayResult> {
  const rec = session.recorder;
  const tap = session.type === "postgres"
    ? new StatementTap((st) => {
      const params = st.params?.length ? `\n-- params: ${JSON.stringify(st.params)}` : "";
      rec.record("sql", st.sql + params);
    })
    : undefined;
  const myTap = session.type === "mysql"
    ? new MysqlStatementTap((st) => {
      const params = st.params?.length ? `\n-- params: ${JSON.stringify(st.params)}` : "";
      rec.record("sql", st.sql + params);
    })
    : undefined;
  const prelude = session.local?.prelude;
  if (prelude) {
    rec.bytesIn += prelude.length;
    tap?.push(prelude);
  }
  let greeted = 0;
  try {
    // Before the splice, so that after the agent's hello the hot path stays a plain splice.
    if (session.local?.greet) greeted = await session.local.greet(agent);
  } catch (err) {
    session.local?.ended?.();
    throw err;
  }
  let firstEnded: Direction | undefined;
  const result = await splice(client, agent, {
    observer: {
      onEnd(direction) {
        firstEnded ??= direction;
      },
      onData(direction, chunk) {
        if (direction === "a2b") {
          rec.bytesIn += chunk.length;
          // Every statement is recorded, however long the session (issue #11).
          tap?.push(chunk);
          myTap?.pushClient(chunk);
        } else {
          rec.bytesOut += chunk.length;
          myTap?.pushServer(chunk);
        }
      },
    },
  });
  session.local?.ended?.();
  rec.bytesIn = result.a2b + (prelude?.length ?? 0);
  rec.bytesOut = result.b2a + greeted;
  return { ...result, agentEndedFirst: firstEnded === "b2a" };
}

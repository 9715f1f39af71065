/**
 * The relay of TCP-type sessions (postgres, tcp): a raw splice, with the
 * client's PostgreSQL statements tapped on their way to the agent.
 *
 * @module
 */
import { StatementTap } from "../postgres/statement_tap.ts";
import { splice } from "../../proto/splice.ts";
import type { LiveSession } from "./live_session.ts";

/** Splice `client` and `agent` until both directions end; resolves with the splice's error, if any. */
export async function relayBytes(
  session: LiveSession,
  client: Deno.Conn,
  agent: Deno.Conn,
): Promise<unknown> {
  const rec = session.recorder;
  const tap = session.type === "postgres"
    ? new StatementTap((st) => {
      const params = st.params?.length ? `\n-- params: ${JSON.stringify(st.params)}` : "";
      rec.record("sql", st.sql + params);
    })
    : undefined;
  const prelude = session.local?.prelude;
  if (prelude) {
    rec.bytesIn += prelude.length;
    tap?.push(prelude);
  }
  const result = await splice(client, agent, {
    observer: {
      onData(direction, chunk) {
        if (direction === "a2b") {
          rec.bytesIn += chunk.length;
          // Every statement is recorded, however long the session (issue #11).
          tap?.push(chunk);
        } else rec.bytesOut += chunk.length;
      },
    },
  });
  rec.bytesIn = result.a2b + (prelude?.length ?? 0);
  rec.bytesOut = result.b2a;
  return result.error;
}

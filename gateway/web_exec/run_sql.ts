/**
 * One SQL run for the web console over an own session's pgwire connection:
 * the results as JSON rows, an SQL error in place after the statements that
 * completed before it.
 *
 * @module
 */
import type * as wire from "../../proto/api_types.ts";
import { endOnAbort, type OwnSession } from "./own_session.ts";
import { PgQueryError, type QueryResult, simpleQuery } from "../../proto/pgwire/mod.ts";
import { cappedConn, OutputCapError } from "./capped_reader.ts";

function resultView(r: QueryResult): wire.RunResultSet {
  return {
    command: r.command,
    columns: r.columns.map((name, i) => ({ name, type_oid: r.types?.[i] ?? 0 })),
    rows: r.rows,
  };
}

/**
 * Run `sql` in `session`; never throws for what the server or the limits do:
 * those come back as `error` (with the results before it). The session's
 * connection is closed when the run ends or is cut.
 */
export async function runSql(
  session: OwnSession,
  sql: string,
  opts: { maxOutputBytes: number; signal: AbortSignal },
): Promise<Omit<wire.RunPostgresResponse, "session_id">> {
  const conn = session.conn;
  const done = endOnAbort(session, opts.signal);
  try {
    const results = await simpleQuery(cappedConn(conn, opts.maxOutputBytes), sql);
    return { type: "postgres", results: results.map(resultView), truncated: false };
  } catch (err) {
    if (err instanceof PgQueryError) {
      return {
        type: "postgres",
        results: err.results.map(resultView),
        error: { message: err.message, code: err.sqlstate },
        truncated: false,
      };
    }
    if (err instanceof OutputCapError) {
      session.end(`the run's results passed ${opts.maxOutputBytes} bytes`);
      return {
        type: "postgres",
        results: [],
        error: {
          message:
            `The results passed ${opts.maxOutputBytes} bytes: the session was cut; use hoop exec -o csv for large results`,
        },
        truncated: true,
      };
    }
    const reason = opts.signal.aborted
      ? String(opts.signal.reason)
      : err instanceof Error
      ? err.message
      : String(err);
    return { type: "postgres", results: [], error: { message: reason }, truncated: false };
  } finally {
    done();
  }
}

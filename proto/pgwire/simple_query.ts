/**
 * A minimal PostgreSQL client: one simple-protocol query over a conn whose far
 * end needs no password (the agent's PostgreSQL front, which answers
 * `AuthenticationOk` itself, or a `trust` server), and the cancel request for
 * it. `hoop exec` on postgres connections runs on it; tests drive the agent
 * with it.
 *
 * @module
 */
import { closeQuietly, writeAll } from "../bytes.ts";
import { HoopError } from "../errors.ts";
import {
  AUTH_OK,
  cstring,
  encodeCancel,
  encodeCopyFail,
  encodeQuery,
  encodeStartup,
  encodeTerminate,
  parseErrorResponse,
  readInt32,
} from "./codec.ts";
import { MessageReader } from "./message_reader.ts";

/** The result of one statement. */
export interface QueryResult {
  /** Column names; empty for statements that return no rows (`INSERT`, `CREATE`...). */
  columns: string[];
  /** Rows as text; `null` is SQL NULL. */
  rows: (string | null)[][];
  /** The command tag (`SELECT 2`, `INSERT 0 1`...); empty for an empty query. */
  command: string;
  /** Type OIDs of the columns (used to right-align numbers). */
  types?: number[];
}

/** A server error; `results` holds the statements that completed before it. */
export class PgQueryError extends HoopError {
  readonly sqlstate: string;
  readonly severity: string;
  readonly detail?: string;
  readonly results: QueryResult[];
  constructor(
    fields: { severity: string; code: string; message: string; detail?: string; hint?: string },
    results: QueryResult[],
  ) {
    super("failed_precondition", fields.message, { hint: fields.hint });
    this.name = "PgQueryError";
    this.sqlstate = fields.code;
    this.severity = fields.severity;
    this.detail = fields.detail;
    this.results = results;
  }
}

/** A PostgreSQL backend's cancel key (from `BackendKeyData`). */
export interface BackendKey {
  pid: number;
  secret: Uint8Array;
}

/** Options of {@linkcode simpleQuery}. */
export interface SimpleQueryOptions {
  /** Startup user name (the agent ignores it); default `hoop`. */
  user?: string;
  /** Startup database (the agent ignores it); default `hoop`. */
  database?: string;
  /** Called with the backend's cancel key once known, to cancel with {@linkcode cancelRequest}. */
  onBackendKey?: (key: BackendKey) => void;
}

const dec = new TextDecoder();

/**
 * Run `sql` (one or more statements) with the simple query protocol and
 * return one result per statement. Sends `Terminate` at the end but leaves
 * `conn` open for the caller to close. A server error becomes a thrown
 * {@linkcode PgQueryError} carrying the server's message.
 */
export async function simpleQuery(
  conn: Deno.Conn,
  sql: string,
  opts: SimpleQueryOptions = {},
): Promise<QueryResult[]> {
  try {
    return await runSimpleQuery(conn, sql, opts);
  } catch (err) {
    // A body shorter than the fields it announces makes DataView throw: the
    // server's fault, not a hoop bug (found by simple_query_fuzz_test.ts).
    if (err instanceof RangeError) {
      throw new HoopError("unavailable", "Cannot run query: the server sent a malformed message", {
        cause: err,
      });
    }
    throw err;
  }
}

async function runSimpleQuery(
  conn: Deno.Conn,
  sql: string,
  opts: SimpleQueryOptions,
): Promise<QueryResult[]> {
  await writeAll(
    conn,
    encodeStartup({
      user: opts.user ?? "hoop",
      database: opts.database ?? "hoop",
      application_name: "hoop exec",
      client_encoding: "UTF8",
    }),
  );
  const reader = new MessageReader(conn);
  const next = async () => {
    const m = await reader.next();
    if (!m) {
      throw new HoopError("unavailable", "Cannot run query: the server closed the connection");
    }
    return m;
  };

  // Startup: until the first ReadyForQuery.
  for (;;) {
    const m = await next();
    if (m.type === "E") throw new PgQueryError(parseErrorResponse(m.body), []);
    if (m.type === "R") {
      const code = readInt32(m.body);
      if (code !== AUTH_OK) {
        throw new HoopError(
          "failed_precondition",
          `Cannot run query: the server asks for authentication method ${code}; hoop exec expects the agent to log in`,
        );
      }
    } else if (m.type === "K") {
      opts.onBackendKey?.({ pid: readInt32(m.body), secret: m.body.slice(4) });
    } else if (m.type === "Z") {
      break;
    }
    // ParameterStatus, notices, NegotiateProtocolVersion: nothing to do.
  }

  await writeAll(conn, encodeQuery(sql));
  const results: QueryResult[] = [];
  let current: QueryResult | null = null;
  let error: PgQueryError | null = null;
  for (;;) {
    const m = await next();
    switch (m.type) {
      case "T": {
        const view = new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength);
        const n = view.getInt16(0);
        const columns: string[] = [];
        const types: number[] = [];
        let off = 2;
        for (let i = 0; i < n; i++) {
          const name = cstring(m.body, off);
          columns.push(name.value);
          types.push(view.getInt32(name.next + 6));
          off = name.next + 18;
        }
        current = { columns, rows: [], command: "", types };
        break;
      }
      case "D": {
        const view = new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength);
        const n = view.getInt16(0);
        const row: (string | null)[] = [];
        let off = 2;
        for (let i = 0; i < n; i++) {
          const len = view.getInt32(off);
          off += 4;
          if (len < 0) row.push(null);
          else {
            row.push(dec.decode(m.body.subarray(off, off + len)));
            off += len;
          }
        }
        (current ??= { columns: [], rows: [], command: "" }).rows.push(row);
        break;
      }
      case "H": // CopyOutResponse: rows of one text column
        current = { columns: ["COPY"], rows: [], command: "", types: [25] };
        break;
      case "d": {
        const line = dec.decode(m.body).replace(/\n$/, "");
        (current ??= { columns: ["COPY"], rows: [], command: "" }).rows.push([line]);
        break;
      }
      case "G": // CopyInResponse: no input channel here
        await writeAll(conn, encodeCopyFail("COPY FROM STDIN is not supported by hoop exec"));
        break;
      case "C":
        (current ??= { columns: [], rows: [], command: "" }).command = cstring(m.body, 0).value;
        results.push(current);
        current = null;
        break;
      case "I": // EmptyQueryResponse
        current = null;
        break;
      case "E":
        error = new PgQueryError(parseErrorResponse(m.body), results);
        current = null;
        break;
      case "Z":
        try {
          await writeAll(conn, encodeTerminate());
        } catch {
          // The answer is complete; a gone server does not change it.
        }
        if (error) throw error;
        return results;
      default:
        // Notices, ParameterStatus, NotificationResponse, CopyDone: nothing to show.
        break;
    }
  }
}

/**
 * Send a CancelRequest for `key` over `conn` (a new connection to the same
 * server or agent), wait for the far end to close, and close `conn`.
 */
export async function cancelRequest(conn: Deno.Conn, key: BackendKey): Promise<void> {
  try {
    await writeAll(conn, encodeCancel(key.pid, key.secret));
    await conn.read(new Uint8Array(1)).catch(() => null);
  } finally {
    closeQuietly(conn);
  }
}

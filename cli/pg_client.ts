/**
 * A minimal PostgreSQL client for `hoop exec <postgres connection>`: one
 * simple-protocol query over a conn that reaches the agent's PostgreSQL front
 * (which accepts any user and answers `AuthenticationOk`), and renderers for
 * its results (psql-like aligned, CSV, JSON).
 *
 * @module
 */
import { HoopError } from "../proto/errors.ts";
import {
  cstring,
  encodeCancel,
  encodeCopyFail,
  encodeQuery,
  encodeStartup,
  encodeTerminate,
  MessageReader,
  parseErrorResponse,
  writeAll,
} from "../proto/pgwire.ts";

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
      const code = new DataView(m.body.buffer, m.body.byteOffset).getInt32(0);
      if (code !== 0) {
        throw new HoopError(
          "failed_precondition",
          `Cannot run query: the server asks for authentication method ${code}; hoop exec expects the agent to log in`,
        );
      }
    } else if (m.type === "K") {
      const view = new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength);
      opts.onBackendKey?.({ pid: view.getInt32(0), secret: m.body.slice(4) });
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
 * agent), wait for the far end to close, and close `conn`.
 */
export async function cancelRequest(conn: Deno.Conn, key: BackendKey): Promise<void> {
  try {
    await writeAll(conn, encodeCancel(key.pid, key.secret));
    await conn.read(new Uint8Array(1)).catch(() => null);
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
}

const NUMERIC_TYPES = new Set([20, 21, 23, 26, 700, 701, 790, 1700]);

function plural(n: number): string {
  return n === 1 ? "(1 row)" : `(${n} rows)`;
}

/** Display width of a string: code points (wide CJK glyphs count once; good enough here). */
function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, w: number, right: boolean): string {
  const fill = " ".repeat(Math.max(0, w - width(s)));
  return right ? fill + s : s + fill;
}

/**
 * Render results as psql's aligned format: centered headers, a dashed rule,
 * numbers right-aligned, NULL as empty, multi-line values continued with `+`,
 * and a `(N rows)` footer. A statement without columns prints its command tag.
 */
export function renderAligned(results: QueryResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    if (r.columns.length === 0) {
      if (r.command) out.push(r.command);
      continue;
    }
    const right = r.columns.map((_, i) => NUMERIC_TYPES.has(r.types?.[i] ?? 0));
    const cells = r.rows.map((row) => row.map((v) => (v ?? "").split("\n")));
    const widths = r.columns.map((c, i) =>
      Math.max(width(c), ...cells.map((row) => Math.max(0, ...(row[i] ?? [""]).map(width))))
    );
    const last = r.columns.length - 1;
    out.push(
      r.columns.map((c, i) => {
        const total = widths[i] - width(c);
        const left = Math.floor(total / 2);
        return " " + " ".repeat(left) + c + " ".repeat(total - left) + " ";
      }).join("|"),
    );
    out.push(widths.map((w) => "-".repeat(w + 2)).join("+"));
    for (const row of cells) {
      const height = Math.max(1, ...row.map((lines) => lines.length));
      for (let l = 0; l < height; l++) {
        let line = "";
        for (let i = 0; i <= last; i++) {
          const lines = row[i] ?? [""];
          const text = lines[l] ?? "";
          const more = l < lines.length - 1;
          const alignRight = right[i] && lines.length === 1;
          // As psql: the last column is not padded on the right unless a "+" follows.
          const cell = i === last && !more && !alignRight ? text : pad(text, widths[i], alignRight);
          line += (i === 0 ? " " : "| ") + cell + (more ? "+" : i === last ? "" : " ");
        }
        out.push(line);
      }
    }
    out.push(plural(r.rows.length));
    out.push("");
  }
  return out.length ? out.join("\n") + "\n" : "";
}

function csvField(v: string | null): string {
  if (v === null) return "";
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/**
 * Render results as CSV the way `psql --csv` does: a header line, then rows,
 * LF line ends, quotes only around fields holding a comma, quote or line
 * break; NULL and the empty string are both an empty field. Statements are
 * separated by a blank line; statements without columns are left out.
 */
export function renderCsv(results: QueryResult[]): string {
  const blocks: string[] = [];
  for (const r of results) {
    if (r.columns.length === 0) continue;
    const lines = [r.columns.map(csvField).join(",")];
    for (const row of r.rows) lines.push(row.map(csvField).join(","));
    blocks.push(lines.join("\n") + "\n");
  }
  return blocks.join("\n");
}

/**
 * Render results as JSON: for each statement with columns, an array of row
 * objects (column name → text or null), each on its own, one after the other
 * (a stream of JSON values, as `jq` reads). A duplicate column name keeps its
 * last value.
 */
export function renderJson(results: QueryResult[]): string {
  let out = "";
  for (const r of results) {
    if (r.columns.length === 0) continue;
    const rows = r.rows.map((row) => {
      const o: Record<string, string | null> = {};
      r.columns.forEach((c, i) => o[c] = row[i] ?? null);
      return o;
    });
    out += JSON.stringify(rows, null, 2) + "\n";
  }
  return out;
}

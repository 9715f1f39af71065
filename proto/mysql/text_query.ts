/**
 * A minimal MySQL client for `hoop exec`: log in to the agent's front end
 * (which accepts any user; the agent holds the real credentials), run one
 * `COM_QUERY` (several statements allowed) and collect every result set of
 * the text protocol: column definitions, rows, OK and ERR packets.
 *
 * @module
 */
import { writeAll } from "../bytes.ts";
import { HoopError } from "../errors.ts";
import { Command, FieldType } from "./commands.ts";
import {
  Capability,
  encodeHandshakeResponse,
  MAX_HANDSHAKE_BYTES,
  parseGreeting,
} from "./handshake.ts";
import { Header, parseErr } from "./messages.ts";
import { BodyWriter, Cursor, encodePacket, MysqlProtocolError, PacketReader } from "./packet.ts";

/** Largest message `hoop exec` accepts from the server (one row, or a column definition). */
export const MAX_EXEC_MESSAGE_BYTES = 256 * 1024 * 1024;

/** `SERVER_MORE_RESULTS_EXISTS`: another result follows this one. */
const MORE_RESULTS = 0x0008;

/** A column definition (`ColumnDefinition41`), the fields hoop uses. */
export interface ColumnDefinition {
  name: string;
  type: number;
  flags: number;
  charset: number;
  decimals: number;
}

/** One statement's result: columns and rows as text, or the OK's summary. */
export interface MysqlResult {
  columns: ColumnDefinition[];
  /** Rows as text; `null` is SQL NULL. */
  rows: (string | null)[][];
  /** For a statement without rows: `OK, 3 rows affected`. */
  command: string;
}

/** A server error with its code and SQLSTATE; `results` holds the statements done before it. */
export class MysqlQueryError extends HoopError {
  readonly errno: number;
  readonly sqlstate: string;
  readonly results: MysqlResult[];
  constructor(errno: number, sqlstate: string, message: string, results: MysqlResult[]) {
    super("failed_precondition", `ERROR ${errno} (${sqlstate}): ${message}`);
    this.name = "MysqlQueryError";
    this.errno = errno;
    this.sqlstate = sqlstate;
    this.results = results;
  }
}

/** Parse a `ColumnDefinition41` body. */
export function parseColumnDefinition(body: Uint8Array): ColumnDefinition {
  const c = new Cursor(body);
  for (const what of ["catalog", "schema", "table", "original table"]) c.lenencBytes(what);
  const name = c.lenencString("the column name") ?? "";
  c.lenencBytes("the original name");
  c.lenenc("the fixed fields' length");
  const charset = c.u16("the charset");
  c.u32("the column length");
  const type = c.u8("the column type");
  const flags = c.u16("the column flags");
  const decimals = c.u8("the decimals");
  return { name, type, flags, charset, decimals };
}

/** The `binary` collation: bytes, not text. */
const BINARY_CHARSET = 63;

/** Column types whose text-protocol value is bytes when the column's charset is binary. */
const STRING_TYPES: ReadonlySet<number> = new Set([
  FieldType.VARCHAR,
  FieldType.VAR_STRING,
  FieldType.STRING,
  FieldType.TINY_BLOB,
  FieldType.MEDIUM_BLOB,
  FieldType.LONG_BLOB,
  FieldType.BLOB,
  FieldType.GEOMETRY,
  FieldType.BIT,
]);

/** True for a column of bytes (`VARBINARY`, `BLOB`, `BIT`...): shown as hex, `0x...`. */
export function isBinaryColumn(c: ColumnDefinition): boolean {
  return c.charset === BINARY_CHARSET && STRING_TYPES.has(c.type);
}

/**
 * Parse a text-protocol row of `count` columns; with `columns`, the values
 * of binary columns are hex (`0x0102ff`), as `mariadb --binary-as-hex`.
 */
export function parseTextRow(
  body: Uint8Array,
  count: number,
  columns?: ColumnDefinition[],
): (string | null)[] {
  const c = new Cursor(body);
  const row: (string | null)[] = [];
  for (let i = 0; i < count; i++) {
    if (columns && isBinaryColumn(columns[i])) {
      const b = c.lenencBytes("a column value");
      row.push(
        b === null ? null : "0x" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""),
      );
    } else row.push(c.lenencString("a column value"));
  }
  return row;
}

/** Parse an OK body: affected rows and status flags. */
export function parseOk(body: Uint8Array): { affected: number; status: number } {
  const c = new Cursor(body, 1);
  const affected = c.lenenc("the affected rows") ?? 0;
  c.lenenc("the insert id");
  return { affected, status: c.remaining >= 2 ? c.u16("the status") : 0 };
}

const isEof = (p: Uint8Array) => p[0] === Header.EOF && p.length < 9;

/** Log in to the agent's front end over `conn` (any user: the agent decides). */
export async function mysqlLogin(conn: Deno.Conn, reader: PacketReader): Promise<void> {
  const greeting = await reader.next(MAX_HANDSHAKE_BYTES);
  if (!greeting) throw new MysqlProtocolError("the connection closed before the greeting");
  if (greeting.payload[0] === Header.ERR) {
    const e = parseErr(greeting.payload);
    throw new MysqlQueryError(e.code, e.sqlstate, e.message, []);
  }
  const g = parseGreeting(greeting.payload);
  const caps = Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH |
    Capability.MULTI_STATEMENTS | Capability.MULTI_RESULTS | Capability.TRANSACTIONS |
    Capability.LONG_PASSWORD | Capability.LONG_FLAG;
  await writeAll(
    conn,
    encodePacket(
      greeting.lastSeq + 1,
      encodeHandshakeResponse({
        capabilities: caps & (g.capabilities | Capability.LONG_PASSWORD),
        maxPacket: 0x1000000,
        charset: 45, // utf8mb4_general_ci
        mariadbCapabilities: 0,
        sslRequest: false,
        user: "hoop",
        authResponse: new Uint8Array(0),
        authPlugin: g.authPlugin,
      }),
    ),
  );
  const answer = await reader.next(MAX_HANDSHAKE_BYTES);
  if (!answer) throw new MysqlProtocolError("the connection closed during the login");
  if (answer.payload[0] === Header.ERR) {
    const e = parseErr(answer.payload);
    throw new MysqlQueryError(e.code, e.sqlstate, e.message, []);
  }
  if (answer.payload[0] !== Header.OK) {
    throw new MysqlProtocolError(`unexpected login answer 0x${answer.payload[0]?.toString(16)}`);
  }
}

/** Log in and run `sql` (one or more statements); resolves with every result. */
export async function mysqlTextQuery(conn: Deno.Conn, sql: string): Promise<MysqlResult[]> {
  const reader = new PacketReader(conn);
  await mysqlLogin(conn, reader);
  const body = new BodyWriter().u8(Command.QUERY).bytes(new TextEncoder().encode(sql)).finish();
  await writeAll(conn, encodePacket(0, body));
  const results: MysqlResult[] = [];
  const next = async () => {
    const m = await reader.next(MAX_EXEC_MESSAGE_BYTES);
    if (!m) throw new MysqlProtocolError("the connection closed inside a result");
    return m.payload;
  };
  for (;;) {
    const first = await next();
    if (first[0] === Header.ERR) {
      const e = parseErr(first);
      throw new MysqlQueryError(e.code, e.sqlstate, e.message, results);
    }
    if (first[0] === Header.OK) {
      const ok = parseOk(first);
      const n = ok.affected;
      results.push({
        columns: [],
        rows: [],
        command: `OK, ${n} ${n === 1 ? "row" : "rows"} affected`,
      });
      if (ok.status & MORE_RESULTS) continue;
      return results;
    }
    if (first[0] === 0xfb) throw new MysqlProtocolError("the server asks for a local file");
    const count = new Cursor(first).lenenc("the column count") ?? 0;
    const columns: ColumnDefinition[] = [];
    for (let i = 0; i < count; i++) columns.push(parseColumnDefinition(await next()));
    const eof = await next();
    if (!isEof(eof)) throw new MysqlProtocolError("no EOF after the column definitions");
    const rows: (string | null)[][] = [];
    let status = 0;
    for (;;) {
      const p = await next();
      if (isEof(p)) {
        status = p.length >= 5 ? p[3] | (p[4] << 8) : 0;
        break;
      }
      if (p[0] === Header.ERR) {
        const e = parseErr(p);
        throw new MysqlQueryError(e.code, e.sqlstate, e.message, results);
      }
      rows.push(parseTextRow(p, count, columns));
    }
    results.push({ columns, rows, command: "" });
    if (!(status & MORE_RESULTS)) return results;
  }
}

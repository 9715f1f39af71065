/**
 * Renderers of `hoop exec` SQL results (psql-like aligned, CSV, JSON), for
 * PostgreSQL (`simpleQuery` of `proto/pgwire/`, columns typed by OID) and
 * MySQL (`mysqlTextQuery` of `proto/mysql/`, columns typed by
 * {@linkcode ColumnKind}, see {@linkcode fromMysqlResults}).
 *
 * @module
 */
import type { QueryResult } from "../proto/pgwire/mod.ts";
import { FieldType, type MysqlResult } from "../proto/mysql/mod.ts";

/** What a column holds, for alignment and JSON typing, whatever the database. */
export type ColumnKind = "integer" | "numeric" | "float" | "json" | "text";

/** A statement's result; `kinds`, when present, types the columns instead of `types`. */
export interface SqlResult extends QueryResult {
  kinds?: ColumnKind[];
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
export function renderAligned(results: SqlResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    if (r.columns.length === 0) {
      if (r.command) out.push(r.command);
      continue;
    }
    const right = r.columns.map((_, i) =>
      r.kinds
        ? r.kinds[i] !== "text" && r.kinds[i] !== "json"
        : NUMERIC_TYPES.has(r.types?.[i] ?? 0)
    );
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
export function renderCsv(results: SqlResult[]): string {
  const blocks: string[] = [];
  for (const r of results) {
    if (r.columns.length === 0) continue;
    const lines = [r.columns.map(csvField).join(",")];
    for (const row of r.rows) lines.push(row.map(csvField).join(","));
    blocks.push(lines.join("\n") + "\n");
  }
  return blocks.join("\n");
}

/** PostgreSQL type OIDs (`pg_type.oid`) that JSON output types. */
const PG_TYPE = {
  bool: 16,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  numeric: 1700,
  jsonb: 3802,
} as const;

/** Most significant digits a decimal may have and still be exact as a JSON (IEEE double) number. */
const MAX_EXACT_DIGITS = 15;

/** A plain decimal (no NaN, Infinity or exponent) with at most {@linkcode MAX_EXACT_DIGITS} digits. */
function exactAsNumber(text: string): boolean {
  if (!/^-?\d+(\.\d+)?$/.test(text)) return false;
  const digits = text.replace(/^-/, "").replace(".", "").replace(/^0+/, "");
  return digits.length <= MAX_EXACT_DIGITS;
}

/**
 * A column's text value as JSON. Integers, floats and numerics become numbers
 * when the number is exactly the value PostgreSQL sent; otherwise (an int8
 * beyond ±2^53, a numeric with more than 15 significant digits, NaN,
 * Infinity) they stay strings, so no digit is ever lost. bool is true/false, json and jsonb are
 * parsed, NULL is null, and every other type is its text.
 */
export function jsonValue(text: string | null, type: number | undefined): unknown {
  if (text === null) return null;
  switch (type) {
    case PG_TYPE.bool:
      return text === "t" ? true : text === "f" ? false : text;
    case PG_TYPE.int2:
    case PG_TYPE.int4:
    case PG_TYPE.oid:
      return Number(text);
    case PG_TYPE.int8:
      return Number.isSafeInteger(Number(text)) ? Number(text) : text;
    case PG_TYPE.numeric:
      return exactAsNumber(text) ? Number(text) : text;
    case PG_TYPE.float4:
    case PG_TYPE.float8: {
      // PostgreSQL prints the shortest text that reads back as the same float.
      const n = Number(text);
      return Number.isFinite(n) ? n : text;
    }
    case PG_TYPE.json:
    case PG_TYPE.jsonb:
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    default:
      return text;
  }
}

/**
 * Render results as JSON: for each statement with columns, an array of row
 * objects (column name → value), each on its own, one after the other (a
 * stream of JSON values, as `jq` reads). Values are typed by
 * {@linkcode jsonValue}. A duplicate column name keeps its last value.
 */
export function renderJson(results: SqlResult[]): string {
  let out = "";
  for (const r of results) {
    if (r.columns.length === 0) continue;
    const rows = r.rows.map((row) => {
      const o: Record<string, unknown> = {};
      r.columns.forEach((c, i) =>
        o[c] = r.kinds
          ? kindValue(row[i] ?? null, r.kinds[i])
          : jsonValue(row[i] ?? null, r.types?.[i])
      );
      return o;
    });
    out += JSON.stringify(rows, null, 2) + "\n";
  }
  return out;
}

/**
 * A value as JSON by its {@linkcode ColumnKind}: integers and decimals become
 * numbers only when exact (else strings, as {@linkcode jsonValue}), floats
 * numbers when finite, json parsed, the rest text.
 */
export function kindValue(text: string | null, kind: ColumnKind | undefined): unknown {
  if (text === null) return null;
  switch (kind) {
    case "integer":
      return Number.isSafeInteger(Number(text)) ? Number(text) : text;
    case "numeric":
      return exactAsNumber(text) ? Number(text) : text;
    case "float": {
      const n = Number(text);
      return Number.isFinite(n) ? n : text;
    }
    case "json":
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    default:
      return text;
  }
}

const MYSQL_INTEGER_TYPES: ReadonlySet<number> = new Set([
  FieldType.TINY,
  FieldType.SHORT,
  FieldType.LONG,
  FieldType.INT24,
  FieldType.LONGLONG,
  FieldType.YEAR,
]);

function mysqlKind(type: number): ColumnKind {
  if (MYSQL_INTEGER_TYPES.has(type)) return "integer";
  if (type === FieldType.DECIMAL || type === FieldType.NEWDECIMAL) return "numeric";
  if (type === FieldType.FLOAT || type === FieldType.DOUBLE) return "float";
  if (type === FieldType.JSON) return "json";
  return "text";
}

/** MySQL results in the renderers' shape, columns typed by their MySQL field types. */
export function fromMysqlResults(results: MysqlResult[]): SqlResult[] {
  return results.map((r) => ({
    columns: r.columns.map((c) => c.name),
    rows: r.rows,
    command: r.command,
    kinds: r.columns.map((c) => mysqlKind(c.type)),
  }));
}

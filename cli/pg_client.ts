/**
 * Renderers of `hoop exec` SQL results (psql-like aligned, CSV, JSON). The
 * query itself runs on `simpleQuery` of `proto/pgwire/`.
 *
 * @module
 */
import type { QueryResult } from "../proto/pgwire/mod.ts";

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

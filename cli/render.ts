/**
 * Renderers shared by every `get` command: an aligned table with upper-case
 * headers and `-` for empty cells, and pretty JSON of the same objects.
 *
 * @module
 */

import { escapeControl } from "../proto/printable.ts";
import { UsageError } from "./command.ts";

/** One table column: its header and how to read a row's cell. */
export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined;
}

/** Spaces between two columns, as in `UID            NAME      MODE`. */
const COLUMN_GAP = 3;

function cellText(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined || value === "") return "-";
  // A cell stays on one line whatever the data holds, and text an agent or a
  // user chose (a hostname, an error) cannot send escape sequences to the terminal.
  return escapeControl(String(value).replace(/[\r\n\t]+/g, " "));
}

/** Render rows as left-aligned, padded columns; each line ends with a newline. */
export function renderTable<T>(columns: Column<T>[], rows: T[]): string {
  const grid = [
    columns.map((c) => c.header.toUpperCase()),
    ...rows.map((row) => columns.map((c) => cellText(c.value(row)))),
  ];
  const widths = columns.map((_, i) => Math.max(...grid.map((line) => [...line[i]].length)));
  return grid.map((line) =>
    line.map((cell, i) =>
      i === line.length - 1 ? cell : cell + " ".repeat(widths[i] - [...cell].length + COLUMN_GAP)
    ).join("") + "\n"
  ).join("");
}

/** Render objects (already snake_case, as the API sends them) as pretty JSON. */
export function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/** The output formats of `-o`. */
export const OUTPUT_FORMATS = ["table", "json"] as const;
/** One of {@linkcode OUTPUT_FORMATS}. */
export type OutputFormat = typeof OUTPUT_FORMATS[number];

/** The `-o/--output` flag spec every `get` command declares. */
export const OUTPUT_OPTION = { output: { type: "string", short: "o" } } as const;

/** Validate an `-o` value (table when absent); an unknown one is a usage error. */
export function parseOutputFormat(value: string | undefined): OutputFormat {
  if (value === undefined) return "table";
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw new UsageError(
    `unknown output format "${value}": choose one of ${OUTPUT_FORMATS.join(", ")}`,
  );
}

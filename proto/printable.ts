/**
 * Text from a peer (an agent's hostname, version, platform and error
 * messages; a client's input) made safe to print: control characters would
 * let it move a terminal's cursor, change its title or forge a log line.
 *
 * @module
 */

// C0 controls, DEL, C1 controls, the Unicode line/paragraph separators, and
// the bidirectional controls that can make text read differently than it is.
const CONTROL =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Escape control characters as `\n`, `\t`, `\r` or `\xNN`/`\uNNNN`; all else is kept. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * A peer-reported value as one printable line of at most `maxChars`
 * characters (longer text is cut and marked with `…`).
 */
export function printable(text: string, maxChars: number): string {
  const safe = escapeControl(text);
  return safe.length <= maxChars ? safe : safe.slice(0, Math.max(0, maxChars - 1)) + "…";
}

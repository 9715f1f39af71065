import assert from "node:assert/strict";
import { escapeControl, printable } from "./printable.ts";

Deno.test("escapeControl() makes escape sequences and line breaks visible", () => {
  assert.equal(escapeControl("host\x1b]0;pwned\x07"), "host\\x1b]0;pwned\\x07");
  assert.equal(escapeControl("a\nERROR forged"), "a\\nERROR forged");
  assert.equal(escapeControl("tab\there\r"), "tab\\there\\r");
  assert.equal(escapeControl("\u009b2J\u2028"), "\\x9b2J\\u2028");
  assert.equal(escapeControl("evil\u202etxt.exe"), "evil\\u202etxt.exe");
  assert.equal(escapeControl("plain ünïcode 名前"), "plain ünïcode 名前");
});

Deno.test("printable() cuts long text and marks the cut", () => {
  assert.equal(printable("abcdef", 10), "abcdef");
  assert.equal(printable("abcdef", 4), "abc…");
  assert.equal(printable("\x1b\x1b", 5), "\\x1b…");
});

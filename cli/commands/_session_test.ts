import assert from "node:assert/strict";
import { formatDuration, printableData } from "./_session.ts";

Deno.test("formatDuration() prints seconds with a tenth, then minutes and hours", () => {
  assert.equal(formatDuration(0), "0.0s");
  assert.equal(formatDuration(1234), "1.2s");
  assert.equal(formatDuration(59_940), "59.9s");
  assert.equal(formatDuration(184_000), "3m04s");
  assert.equal(formatDuration(3_600_000 + 5 * 60_000), "1h05m");
});

Deno.test("printableData() escapes control characters and abbreviates long data", () => {
  assert.equal(
    printableData({ seq: 1, time: 0, kind: "o", data: "\x1b[1mhi\n" }),
    "\\u001b[1mhi\\n",
  );
  const long = printableData({ seq: 1, time: 0, kind: "o", data: "x".repeat(500) });
  assert.equal(long, "x".repeat(69) + "... (500 chars)");
  assert.equal(
    printableData({ seq: 1, time: 0, kind: "o", data_b64: btoa("\xff\xfe\xfd") }),
    "<3 bytes of binary data>",
  );
});

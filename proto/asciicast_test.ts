import assert from "node:assert/strict";
import { toAsciicast } from "./asciicast.ts";

Deno.test("toAsciicast() defaults to 80x24 and skips non-terminal events", () => {
  const cast = toAsciicast({ started_at: "2026-01-01T00:00:00Z" }, [
    { seq: 1, time: "2026-01-01T00:00:02Z", kind: "stdout", data: "ignored" },
    { seq: 2, time: "2026-01-01T00:00:03Z", kind: "o", data_b64: btoa("hi") },
  ]);
  const lines = cast.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines, [
    { version: 2, width: 80, height: 24, timestamp: Date.parse("2026-01-01T00:00:00Z") / 1000 },
    [3, "o", "hi"],
  ]);
});

Deno.test("toAsciicast() takes the header size from the first resize and keeps later ones", () => {
  const cast = toAsciicast({ started_at: "2026-01-01T00:00:00Z" }, [
    { seq: 1, time: "2026-01-01T00:00:00Z", kind: "r", data: "91x27" },
    { seq: 2, time: "2026-01-01T00:00:01.5Z", kind: "o", data: ">>> " },
    { seq: 3, time: "2026-01-01T00:00:02Z", kind: "r", data: "120x40" },
  ]);
  const lines = cast.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines[0].width, 91);
  assert.equal(lines[0].height, 27);
  assert.deepEqual(lines.slice(1), [[0, "r", "91x27"], [1.5, "o", ">>> "], [2, "r", "120x40"]]);
});

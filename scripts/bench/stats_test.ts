import assert from "node:assert/strict";
import { median, percentile, ratio } from "./stats.ts";

Deno.test("median() takes the middle value, or the mean of the two middle ones", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("percentile() uses the nearest rank", () => {
  const xs = Array.from({ length: 50 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 25);
  assert.equal(percentile(xs, 99), 50);
  assert.equal(percentile([7], 99), 7);
  assert.throws(() => percentile(xs, 101), RangeError);
});

Deno.test("ratio() is NaN for a missing or zero reference", () => {
  assert.equal(ratio(6, 3), 2);
  assert.ok(Number.isNaN(ratio(6, 0)));
  assert.ok(Number.isNaN(ratio(undefined, 3)));
});

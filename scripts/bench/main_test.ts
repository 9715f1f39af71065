import assert from "node:assert/strict";
import { roundOrder } from "./main.ts";

Deno.test("roundOrder() runs the paths as listed in odd rounds and reversed in even ones", () => {
  assert.deepEqual(roundOrder(["a", "b", "c"], 1), ["a", "b", "c"]);
  assert.deepEqual(roundOrder(["a", "b", "c"], 2), ["c", "b", "a"]);
  assert.deepEqual(roundOrder(["a", "b", "c"], 3), ["a", "b", "c"]);
});

import assert from "node:assert/strict";
import { STORE_RECONNECT_MAX_MS, storeReconnectDelayS } from "./postgres_driver.ts";

Deno.test("a store that is back is tried again within STORE_RECONNECT_MAX_MS, however long it was down", () => {
  let previousCap = 0;
  for (let retries = 0; retries <= 1_000; retries++) {
    const cap = Math.min(50 * 2 ** retries, STORE_RECONNECT_MAX_MS);
    for (let i = 0; i < 20; i++) {
      const ms = storeReconnectDelayS(retries) * 1000;
      assert.ok(
        ms >= cap / 2 && ms <= cap,
        `retry ${retries}: ${ms} ms outside [${cap / 2}, ${cap}]`,
      );
    }
    assert.ok(cap >= previousCap, "the wait never shrinks as failures go on");
    previousCap = cap;
  }
});

import assert from "node:assert/strict";
import { Semaphore } from "./semaphore.ts";

Deno.test("Semaphore.run() never lets more than size run, and runs them all in order", async () => {
  const sem = new Semaphore(3);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const gates: (() => void)[] = [];
  const jobs = Array.from({ length: 10 }, (_, i) =>
    sem.run(async () => {
      running++;
      peak = Math.max(peak, running);
      order.push(i);
      await new Promise<void>((r) => gates.push(r));
      running--;
      return i;
    }));
  // Release the gates one by one as jobs arrive at them.
  for (let released = 0; released < 10; released++) {
    while (gates.length === 0) await new Promise((r) => setTimeout(r, 0));
    gates.shift()!();
  }
  assert.deepEqual(await Promise.all(jobs), [...Array(10).keys()]);
  assert.equal(peak, 3);
  assert.deepEqual(order, [...Array(10).keys()]);
  assert.equal(sem.held, 0);
});

Deno.test("Semaphore.run() frees the slot when the job throws", async () => {
  const sem = new Semaphore(1);
  await assert.rejects(sem.run(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await sem.run(() => Promise.resolve(7)), 7);
  assert.equal(sem.held, 0);
});

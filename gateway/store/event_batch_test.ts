import assert from "node:assert/strict";
import {
  decodeEventBatch,
  encodeEventBatch,
  EventBatchError,
  MAX_EVENT_BATCH_BYTES,
  splitEventBatches,
} from "./event_batch.ts";
import { openSqliteDriver } from "./sqlite_driver.ts";
import { SqlStore } from "./sql_store.ts";
import { type SecretBox, type SessionEvent, StoreConflictError } from "./store.ts";

const enc = new TextEncoder();

function ev(seq: number, data: Uint8Array | string, kind = "o"): SessionEvent {
  return {
    seq,
    time: `2026-12-02T16:00:${String(seq % 60).padStart(2, "0")}.000Z`,
    kind: kind as SessionEvent["kind"],
    data: typeof data === "string" ? enc.encode(data) : data,
  };
}

Deno.test("event batch: round trip of binary, empty and large data", () => {
  const events = [
    ev(0, new Uint8Array(256).map((_, i) => i), "i"),
    ev(1, new Uint8Array(0)),
    ev(7, "select 1;", "sql"),
    ev(2 ** 32 - 1, new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff), "e"),
  ];
  const back = decodeEventBatch(encodeEventBatch(events));
  assert.deepEqual(back, events);
  for (const e of back) assert.equal(Object.getPrototypeOf(e.data), Uint8Array.prototype);
});

Deno.test("event batch: a cut or unknown batch is refused with a reason", () => {
  const bytes = encodeEventBatch([ev(0, "hello"), ev(1, "world")]);
  assert.throws(() => decodeEventBatch(bytes.subarray(0, bytes.length - 2)), EventBatchError);
  assert.throws(() => decodeEventBatch(bytes.subarray(0, 4)), /ends inside an event/);
  assert.throws(() => decodeEventBatch(new Uint8Array([9, 0, 0])), /unknown batch format 9/);
  assert.throws(() => decodeEventBatch(new Uint8Array(0)), /unknown batch format \(empty\)/);
});

Deno.test("event batch: splits at MAX_EVENT_BATCH_BYTES, keeping order", () => {
  const chunk = new Uint8Array(MAX_EVENT_BATCH_BYTES / 4);
  const events = Array.from({ length: 9 }, (_, i) => ev(i, chunk));
  const runs = splitEventBatches(events);
  assert.equal(runs.length, 3);
  assert.deepEqual(runs.flat().map((e) => e.seq), events.map((e) => e.seq));
  for (const run of runs) assert.ok(encodeEventBatch(run).length <= MAX_EVENT_BATCH_BYTES);
  const huge = [ev(0, new Uint8Array(MAX_EVENT_BATCH_BYTES + 1))];
  assert.deepEqual(splitEventBatches(huge), [huge]);
});

Deno.test("event batch: rows of the per-event table (before migration 4) are still read and still taken", async () => {
  const dir = await Deno.makeTempDir();
  const driver = await openSqliteDriver(`${dir}/hoop.db`);
  const store = new SqlStore(driver, {} as SecretBox);
  try {
    await store.createSession({
      id: "s1",
      userId: "u1",
      userEmail: "u@example.com",
      connectionName: "pg",
      connectionType: "postgres",
      agentName: "dev",
      verb: "connect",
      startedAt: "2026-12-02T16:00:00.000Z",
    });
    await driver.run(
      "INSERT INTO session_events (session_id, seq, time, kind, data) VALUES ($1, $2, $3, $4, $5)",
      ["s1", 1, "2026-12-02T16:00:01.000Z", "sql", enc.encode("select 1;")],
    );
    await store.appendSessionEvents("s1", [ev(0, "a"), ev(2, "b")]);
    assert.deepEqual((await store.listSessionEvents("s1")).map((e) => e.seq), [0, 1, 2]);
    await assert.rejects(store.appendSessionEvents("s1", [ev(1, "again")]), StoreConflictError);
    await assert.rejects(
      store.appendSessionEvents("s1", [ev(3, "x"), ev(3, "y")]),
      StoreConflictError,
    );
    assert.equal((await store.listSessionEvents("s1")).length, 3);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { log } from "../../proto/log.ts";
import { SessionRecorder } from "./recorder.ts";
import type { SessionEnd, SessionEvent, Store } from "../store/store.ts";

/** The two store calls the recorder makes, kept in memory; writes can be held open. */
function fakeStore() {
  const events: SessionEvent[] = [];
  const ends: SessionEnd[] = [];
  let release = () => {};
  let held = Promise.resolve();
  const store = {
    async appendSessionEvents(_id: string, batch: SessionEvent[]) {
      await held;
      events.push(...batch);
    },
    recordSessionProgress() {
      return Promise.resolve();
    },
    finishSession(_id: string, end: SessionEnd) {
      ends.push(end);
      return Promise.resolve();
    },
  } as unknown as Store;
  return {
    store,
    events,
    ends,
    hold() {
      held = new Promise((r) => release = r);
    },
    release: () => release(),
  };
}

Deno.test("SessionRecorder.record() cuts data at the cap and flags the session truncated", async () => {
  const f = fakeStore();
  const rec = new SessionRecorder(f.store, "s1", { log, maxBytes: 10 });
  rec.record("o", "0123456");
  rec.record("o", "789abcdef");
  rec.record("e", "more");
  assert.equal(rec.truncated, true);
  await rec.finish({ status: "done", exitCode: 0, error: null });
  const data = f.events.filter((e) => e.kind !== "info").map((e) =>
    new TextDecoder().decode(e.data)
  );
  assert.deepEqual(data, ["0123456", "789"]);
  assert.ok(f.events.some((e) => e.kind === "info"));
  assert.deepEqual(f.events.map((e) => e.seq), [0, 1, 2]);
  assert.equal(f.ends[0].truncated, true);
});

Deno.test("SessionRecorder.finish() makes every caller wait for the one closed row", async () => {
  const f = fakeStore();
  const rec = new SessionRecorder(f.store, "s1", { log });
  rec.record("o", "hello");
  f.hold();
  const first = rec.finish({ status: "done", exitCode: 0, error: null });
  let secondDone = false;
  const second = rec.finish({ status: "error", exitCode: null, error: "late" }).then(() => {
    secondDone = true;
  });
  for (let i = 0; i < 20; i++) await Promise.resolve();
  assert.equal(secondDone, false, "a second finish returned before the row was written");
  rec.record("o", "after the end");
  f.release();
  await Promise.all([first, second]);
  assert.equal(f.ends.length, 1);
  assert.equal(f.ends[0].status, "done");
  assert.deepEqual(f.events.map((e) => new TextDecoder().decode(e.data)), ["hello"]);
});

Deno.test("SessionRecorder keeps every statement past the output cap (issue #11)", async () => {
  const f = fakeStore();
  const rec = new SessionRecorder(f.store, "s1", { log, maxBytes: 10 });
  rec.record("o", "0123456789abc");
  for (let i = 0; i < 500; i++) rec.record("sql", `select ${i}`);
  await rec.finish({ status: "done", exitCode: 0, error: null });
  const sql = f.events.filter((e) => e.kind === "sql").map((e) => new TextDecoder().decode(e.data));
  assert.equal(sql.length, 500);
  assert.equal(sql[499], "select 499");
  assert.equal(rec.truncated, true, "the output was still cut");
  assert.equal(f.ends[0].truncated, true);
});

Deno.test("SessionRecorder stores statements as UTF-8, in order among other events, across flushes", async () => {
  const f = fakeStore();
  const rec = new SessionRecorder(f.store, "s1", { log });
  rec.record("sql", "select 'ü€😀'");
  rec.record("o", "row");
  rec.record("sql", new TextEncoder().encode("select 2"));
  // Past the flush threshold: a flush happens inside the loop, the rest at finish.
  const long = "x".repeat(40 * 1024);
  rec.record("sql", `select '${long}'`);
  rec.record("sql", `select '${long}', 'é'`);
  rec.record("sql", "");
  await rec.finish({ status: "done", exitCode: 0, error: null });
  const dec = new TextDecoder();
  assert.deepEqual(f.events.map((e) => [e.seq, e.kind, dec.decode(e.data)]), [
    [0, "sql", "select 'ü€😀'"],
    [1, "o", "row"],
    [2, "sql", "select 2"],
    [3, "sql", `select '${long}'`],
    [4, "sql", `select '${long}', 'é'`],
    [5, "sql", ""],
  ]);
  // Each statement's bytes are its own: no slack of the shared buffer shows through.
  assert.equal(f.events[0].data.length, new TextEncoder().encode("select 'ü€😀'").length);
});

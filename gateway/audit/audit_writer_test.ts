import assert from "node:assert/strict";
import { unavailable } from "../../proto/errors.ts";
import { Logger } from "../../proto/log.ts";
import { secretBoxFromKey } from "../secret_box.ts";
import { openStore } from "../store/open_store.ts";
import type { SessionEnd, SessionEvent, Store } from "../store/store.ts";
import { AuditWriter } from "./audit_writer.ts";
import { AuditSpool } from "./spool.ts";

const quiet = new Logger({}, { sink: { write: () => {} }, level: "error" });

/**
 * A real SQLite store behind a switch: while `down`, the two audit writes
 * fail as an unreachable PostgreSQL's do (`unavailable`). The real outage,
 * a stopped PostgreSQL server, is in tests/audit_outage_test.ts.
 */
async function switchableStore(dir: string) {
  const real = await openStore(undefined, {
    dataDir: dir,
    secretBox: await secretBoxFromKey(new Uint8Array(32)),
  });
  const state = { down: false, writes: 0 };
  const guard = () => {
    if (state.down) throw unavailable("The gateway's store is unreachable: connection refused");
    state.writes++;
  };
  const store = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === "appendSessionEvents") {
        return (id: string, ev: SessionEvent[]) => {
          guard();
          return target.appendSessionEvents(id, ev);
        };
      }
      if (prop === "finishSession") {
        return (id: string, end: SessionEnd) => {
          guard();
          return target.finishSession(id, end);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as Store;
  return { store, real, state };
}

async function newSession(store: Store, id: string): Promise<void> {
  await store.createSession({
    id,
    userId: "u1",
    userEmail: "u@example.com",
    connectionName: "sh",
    connectionType: "command",
    agentName: "dev",
    verb: "exec",
    startedAt: new Date().toISOString(),
  });
}

function events(from: number, n: number): SessionEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: from + i,
    time: new Date().toISOString(),
    kind: "o" as const,
    data: new TextEncoder().encode(`line ${from + i}`),
  }));
}

const END: SessionEnd = {
  status: "done",
  exitCode: 0,
  bytesIn: 1,
  bytesOut: 2,
  truncated: false,
  error: null,
  endedAt: new Date().toISOString(),
};

async function waitUntil(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("AuditWriter spools while the store is down and replays in order, exactly once", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "hoop-audit-" });
  const { store, real, state } = await switchableStore(dir);
  const spool = await AuditSpool.open(dir);
  const audit = new AuditWriter(store, spool, { log: quiet, retryIntervalMs: 50 });
  try {
    await newSession(real, "s1");
    await newSession(real, "s2");

    await t.step("store up: writes go straight to it", async () => {
      await audit.appendSessionEvents("s1", events(0, 3));
      assert.equal(spool.empty, true);
      assert.equal((await real.listSessionEvents("s1")).length, 3);
      assert.deepEqual(audit.health, { state: "ok" });
    });

    await t.step("store down: writes are on disk in the spool, health says why", async () => {
      state.down = true;
      await audit.appendSessionEvents("s1", events(3, 2));
      await audit.appendSessionEvents("s2", events(0, 1));
      await audit.finishSession("s2", END);
      assert.equal(audit.health.state, "spooling");
      assert.match((audit.health as { reason: string }).reason, /store is unreachable/);
      const { entries } = await spool.read();
      assert.deepEqual(entries.map((e) => `${e.sid}:${e.op}`), [
        "s1:events",
        "s2:events",
        "s2:finish",
      ]);
      assert.equal((await real.listSessionEvents("s1")).length, 3);
      assert.equal((await real.getSession("s2"))?.status, "open");
    });

    await t.step("store back: the spool is replayed in order and emptied", async () => {
      state.down = false;
      await waitUntil(() => audit.health.state === "ok", "replay");
      assert.equal(spool.empty, true);
      const s1 = await real.listSessionEvents("s1");
      assert.deepEqual(s1.map((e) => e.seq), [0, 1, 2, 3, 4]);
      assert.equal((await real.getSession("s2"))?.status, "done");
      await audit.appendSessionEvents("s1", events(5, 1));
      assert.equal(spool.empty, true, "writes go straight to the store again");
    });

    await t.step("a batch replayed twice (crash before the spool rewrite) lands once", async () => {
      state.down = true;
      await audit.appendSessionEvents("s1", events(6, 2));
      // The store took the same batch already, as if the gateway died after its commit.
      await real.appendSessionEvents("s1", events(6, 2));
      state.down = false;
      await waitUntil(() => audit.health.state === "ok", "second replay");
      const seqs = (await real.listSessionEvents("s1")).map((e) => e.seq);
      assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5, 6, 7]);
    });
  } finally {
    await audit.close();
    await real.close();
  }
});

Deno.test("AuditWriter replays a spool left by an earlier run before anything else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hoop-audit-" });
  const first = await switchableStore(dir);
  await newSession(first.real, "s1");
  first.state.down = true;
  const spool1 = await AuditSpool.open(dir);
  const audit1 = new AuditWriter(first.store, spool1, { log: quiet, retryIntervalMs: 60_000 });
  await audit1.appendSessionEvents("s1", events(0, 2));
  await audit1.finishSession("s1", END);
  await audit1.close(); // the gateway stops with records spooled
  await first.real.close();

  const second = await switchableStore(dir);
  const spool2 = await AuditSpool.open(dir);
  assert.equal(spool2.empty, false);
  const audit2 = new AuditWriter(second.store, spool2, { log: quiet, retryIntervalMs: 60_000 });
  assert.equal(audit2.health.state, "spooling");
  await audit2.replayNow();
  assert.equal(audit2.health.state, "ok");
  assert.equal((await second.real.getSession("s1"))?.status, "done");
  assert.equal((await second.real.listSessionEvents("s1")).length, 2);
  await audit2.close();
  await second.real.close();
});

Deno.test("AuditWriter at the spool's bound reports full once and says so in its health", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hoop-audit-" });
  const { store, real, state } = await switchableStore(dir);
  await newSession(real, "s1");
  const spool = await AuditSpool.open(dir, 600);
  const fulls: string[] = [];
  const audit = new AuditWriter(store, spool, {
    log: quiet,
    retryIntervalMs: 60_000,
    onFull: (r) => fulls.push(r),
  });
  state.down = true;
  for (let i = 0; i < 10; i++) await audit.appendSessionEvents("s1", events(i, 1));
  assert.equal(audit.health.state, "full");
  assert.equal(fulls.length, 1);
  assert.match(fulls[0], /spool is at its limit of 600 bytes/);
  assert.ok(spool.size <= 600);
  await audit.close();
  await real.close();
});

import assert from "node:assert/strict";
import { openSqliteDriver, type SqliteDriver } from "./sqlite_driver.ts";

async function withTable(fn: (db: SqliteDriver) => Promise<void>) {
  const db = await openSqliteDriver(":memory:");
  try {
    await db.run("CREATE TABLE t (name TEXT PRIMARY KEY, flag INTEGER NOT NULL)");
    await fn(db);
  } finally {
    await db.close();
  }
}

Deno.test('SqliteDriver translates $N placeholders, booleans and COLLATE "C"', () =>
  withTable(async (db) => {
    assert.equal(await db.run("INSERT INTO t VALUES ($1, $2), ($3, $2)", ["b", true, "a"]), 2);
    await db.run("INSERT INTO t VALUES ($2, $1)", [false, "B"]);
    const rows = await db.all('SELECT name, flag FROM t ORDER BY name COLLATE "C"');
    assert.deepEqual(rows.map((r) => [r.name, r.flag]), [["B", 0], ["a", 1], ["b", 1]]);
    const [same] = await db.all("SELECT $1 AS x, $1 AS y", ["same"]);
    assert.deepEqual([same.x, same.y], ["same", "same"]);
  }));

Deno.test("SqliteDriver.tx() rolls back on a throw and keeps others' calls out of it", () =>
  withTable(async (db) => {
    let inTx!: () => void;
    const started = new Promise<void>((resolve) => inTx = resolve);
    const tx = db.tx(async (q) => {
      await q.run("INSERT INTO t VALUES ($1, $2)", ["in-tx", 1]);
      inTx();
      // A real pause: the event loop runs, and so would another caller's statement.
      await new Promise((resolve) => setTimeout(resolve, 20));
      throw new Error("boom");
    });
    await started;
    const outside = db.run("INSERT INTO t VALUES ($1, $2)", ["outside", 0]);
    await assert.rejects(tx, /boom/);
    assert.equal(await outside, 1);
    assert.deepEqual((await db.all("SELECT name FROM t")).map((r) => r.name), ["outside"]);
    assert.ok(
      db.isUniqueViolation(await db.run("INSERT INTO t VALUES ('outside', 0)").catch((e) => e)),
    );
  }));

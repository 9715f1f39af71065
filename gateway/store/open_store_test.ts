import assert from "node:assert/strict";
import { join } from "node:path";
import { HoopError } from "../../proto/errors.ts";
import { secretBoxFromKey } from "../secret_box.ts";
import { openStore } from "./open_store.ts";

const secretBox = await secretBoxFromKey(new Uint8Array(32).fill(7));

function hoopError(code: string, pattern: RegExp, forbidden?: string) {
  return (e: unknown) => {
    assert.ok(e instanceof HoopError, `want a HoopError, got ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    if (forbidden) assert.ok(!e.message.includes(forbidden), "secret in message");
    return true;
  };
}

Deno.test("openStore() rejects an unknown scheme, naming the accepted ones", async () => {
  await assert.rejects(
    openStore("mysql://root:hunter2@db/hoop", { dataDir: "/nonexistent", secretBox }),
    hoopError(
      "invalid_argument",
      /^Cannot open store "mysql:\/\/root:\*\*\*@db\/hoop": unknown scheme "mysql:"; use sqlite:PATH or postgres:\/\/\.\.\.$/,
      "hunter2",
    ),
  );
  await assert.rejects(
    openStore("/var/lib/hoop.db", { dataDir: "/nonexistent", secretBox }),
    hoopError("invalid_argument", /"\/var\/lib\/hoop\.db": no scheme; use sqlite:PATH/),
  );
});

Deno.test("openStore() defaults to SQLite in a private data dir", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const dataDir = join(tmp, "gw");
    const store = await openStore(undefined, { dataDir, secretBox });
    assert.equal(store.kind, "sqlite");
    await store.createAgent({
      id: "a1",
      name: "dev",
      mode: "standard",
      keyHash: null,
      viaOrgKey: false,
      createdAt: new Date().toISOString(),
    });
    await store.close();
    assert.equal((await Deno.stat(dataDir)).mode! & 0o777, 0o700);
    await Deno.stat(join(dataDir, "hoop.db"));
    // An empty URL and sqlite:RELATIVE both land in the data dir too.
    for (const url of ["", "sqlite:hoop.db", `file://${join(dataDir, "hoop.db")}`]) {
      const again = await openStore(url, { dataDir, secretBox });
      assert.equal((await again.getAgentByName("dev"))?.id, "a1", url);
      await again.close();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("openStore() opens an in-memory SQLite store for sqlite::memory:", async () => {
  const store = await openStore("sqlite::memory:", { dataDir: "/nonexistent", secretBox });
  try {
    assert.equal(store.kind, "sqlite");
    assert.equal(await store.countUsers(), 0);
  } finally {
    await store.close();
  }
});

Deno.test("openStore() names host:port, not the password, when PostgreSQL is unreachable", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close(); // nothing listens there now
  await assert.rejects(
    openStore(`postgres://hoop:s3cretpw@127.0.0.1:${port}/hoop`, {
      dataDir: "/nonexistent",
      secretBox,
    }),
    hoopError(
      "unavailable",
      new RegExp(`Cannot connect to PostgreSQL at "127\\.0\\.0\\.1:${port}"`),
      "s3cretpw",
    ),
  );
});

Deno.test("openStore() rejects a schema that is not a plain identifier", async () => {
  await assert.rejects(
    openStore("postgres://u:pw@127.0.0.1:1/db?schema=a;drop", { dataDir: "/x", secretBox }),
    hoopError("invalid_argument", /schema "a;drop" is not a plain identifier/, ":pw@"),
  );
});

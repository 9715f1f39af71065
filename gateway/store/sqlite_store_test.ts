import assert from "node:assert/strict";
import { join } from "node:path";
import { secretBoxFromKey } from "../secret_box.ts";
import { storeConformance } from "./_store_conformance.ts";
import { openStore } from "./open_store.ts";

storeConformance("SqlStore on SQLite conforms to the Store behaviour", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "hoop-sqlite-" });
  const secretBox = await secretBoxFromKey(crypto.getRandomValues(new Uint8Array(32)));
  const url = `sqlite:${join(dataDir, "hoop.db")}`;
  const latin1 = new TextDecoder("latin1");
  return {
    store: await openStore(url, { dataDir, secretBox }),
    reopen: () => openStore(url, { dataDir, secretBox }),
    // The bytes on disk: the database file and its write-ahead log.
    async rawDump() {
      let text = "";
      for (const f of ["hoop.db", "hoop.db-wal"]) {
        try {
          text += latin1.decode(await Deno.readFile(join(dataDir, f)));
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
      return text;
    },
    cleanup: () => Deno.remove(dataDir, { recursive: true }),
  };
});

Deno.test("openStore() on SQLite keeps the database file readable by its owner only", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "hoop-sqlite-" });
  const secretBox = await secretBoxFromKey(crypto.getRandomValues(new Uint8Array(32)));
  const store = await openStore(undefined, { dataDir, secretBox });
  try {
    await store.countUsers();
    for (const f of ["hoop.db", "hoop.db-wal"]) {
      const mode = (await Deno.stat(join(dataDir, f))).mode! & 0o777;
      assert.equal(mode, 0o600, `${f} has mode ${mode.toString(8)}`);
    }
  } finally {
    await store.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

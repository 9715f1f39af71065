/**
 * Pick the store backend by URL scheme (`HOOP_DATABASE_URL`).
 *
 * @module
 */

import { isAbsolute, join } from "node:path";
import { HoopError } from "../../proto/errors.ts";
import { redact } from "../../proto/log.ts";
import { openPostgresDriver } from "./postgres_driver.ts";
import { SqlStore } from "./sql_store.ts";
import { openSqliteDriver } from "./sqlite_driver.ts";
import type { SecretBox, Store } from "./store.ts";

/** Options of {@linkcode openStore}. */
export interface OpenStoreOptions {
  /** The gateway's data dir: home of the default SQLite file `hoop.db`. */
  dataDir: string;
  /** Seals the org key and connection configs before they are written. */
  secretBox: SecretBox;
}

/** File name of the default SQLite store inside the data dir. */
export const SQLITE_FILE = "hoop.db";

/**
 * Open the store `url` names: empty or undefined → SQLite at
 * `<dataDir>/hoop.db`; `sqlite:PATH` or `file:PATH` → SQLite at PATH
 * (relative paths resolve against the data dir; `:memory:` is in-memory);
 * `postgres://` or `postgresql://` → PostgreSQL (optional `?schema=NAME`).
 */
export async function openStore(url: string | undefined, opts: OpenStoreOptions): Promise<Store> {
  const text = url?.trim() ?? "";
  if (text === "") return await openSqlite(join(opts.dataDir, SQLITE_FILE), opts);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  if (scheme === "postgres" || scheme === "postgresql") {
    return new SqlStore(await openPostgresDriver(text), opts.secretBox);
  }
  if (scheme === "sqlite" || scheme === "file") {
    let path = text.slice(scheme.length + 1);
    // Accept the URL forms sqlite:///abs/path and file:///abs/path too.
    if (path.startsWith("//")) path = path.replace(/^\/\/[^/]*/, "");
    if (path === "") path = SQLITE_FILE;
    if (path !== ":memory:" && !isAbsolute(path)) path = join(opts.dataDir, path);
    return await openSqlite(path, opts);
  }
  const state = scheme === undefined ? "no scheme" : `unknown scheme "${scheme}:"`;
  throw new HoopError(
    "invalid_argument",
    `Cannot open store "${redact(text)}": ${state}; use sqlite:PATH or postgres://...`,
  );
}

async function openSqlite(path: string, opts: OpenStoreOptions): Promise<Store> {
  if (path !== ":memory:") {
    // The data dir holds the secret key and the store: others may not read it.
    await Deno.mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (dir) await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  }
  try {
    return new SqlStore(await openSqliteDriver(path), opts.secretBox);
  } catch (cause) {
    throw new HoopError(
      "unavailable",
      `Cannot open store "sqlite:${path}": ${(cause as Error).message}`,
      { cause },
    );
  }
}

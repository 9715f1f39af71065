/**
 * The gateway's persistent state: the {@linkcode Store} interface, its two
 * backends and {@linkcode openStore}, which picks one by URL.
 *
 * @module
 */

export * from "./store.ts";
export { openStore, type OpenStoreOptions, SQLITE_FILE } from "./open_store.ts";
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from "./sqlite_store.ts";
export { openPostgresStore, PostgresStore, type PostgresStoreOptions } from "./postgres_store.ts";
export { type Migration, SQLITE_MIGRATIONS } from "./sqlite_migrations.ts";
export { POSTGRES_MIGRATIONS } from "./postgres_migrations.ts";

/**
 * The gateway's persistent state: the {@linkcode Store} interface, one
 * {@linkcode SqlStore} holding its SQL, the two drivers it runs on (SQLite,
 * PostgreSQL) with their migrations, and {@linkcode openStore}, which picks a
 * driver by URL.
 *
 * @module
 */

export * from "./store.ts";
export { openStore, type OpenStoreOptions, SQLITE_FILE } from "./open_store.ts";
export { SqlStore } from "./sql_store.ts";
export type { Row, SqlDriver, SqlParam, SqlQueryer, TxOptions } from "./sql_driver.ts";
export { openSqliteDriver, SqliteDriver } from "./sqlite_driver.ts";
export { openPostgresDriver, PostgresDriver } from "./postgres_driver.ts";
export { type Migration, SQLITE_MIGRATIONS } from "./sqlite_migrations.ts";
export { POSTGRES_MIGRATIONS } from "./postgres_migrations.ts";

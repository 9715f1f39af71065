/**
 * The small interface `SqlStore` is written against, so the store's
 * SQL exists once. A driver only translates: placeholders (`$1, $2, ...` in
 * the store's SQL), parameter and value types, transactions and the test for a
 * unique violation. Opening, pooling and migrating are the driver's own
 * business, done before the store sees it.
 *
 * The SQL the store writes is the common dialect of SQLite 3.35+ and
 * PostgreSQL: `RETURNING`, `ON CONFLICT ... DO UPDATE`, `COLLATE "C"` for byte
 * order, booleans as `TRUE`/`FALSE` parameters or bare boolean columns.
 *
 * @module
 */

/** A statement parameter; drivers map booleans and bytes to their backend's types. */
export type SqlParam = string | number | boolean | null | Uint8Array;

/** A result row, keyed by column name, as the backend returns it. */
export type Row = Record<string, unknown>;

/** Runs statements: the driver itself, or the handle of an open transaction. */
export interface SqlQueryer {
  /** Run one statement and return its rows (a `SELECT`, or anything with `RETURNING`). */
  all(sql: string, params?: readonly SqlParam[]): Promise<Row[]>;
  /** Run one statement and return how many rows it changed. */
  run(sql: string, params?: readonly SqlParam[]): Promise<number>;
}

/** Options of {@linkcode SqlDriver.tx}. */
export interface TxOptions {
  /**
   * A table no other transaction may write while this one runs, held from its
   * first statement, so a read-then-write on it (count, then insert) cannot
   * interleave with another's.
   */
  exclusiveTable?: string;
}

/** One backend, as `SqlStore` needs it. */
export interface SqlDriver extends SqlQueryer {
  /** Which backend this is, for logs. */
  readonly kind: "sqlite" | "postgres";
  /**
   * Run `fn` in one transaction: committed when it resolves, rolled back when
   * it throws. Statements must go through the handle `fn` receives, never the
   * driver itself (which waits for the transaction to end).
   */
  tx<T>(fn: (q: SqlQueryer) => Promise<T>, opts?: TxOptions): Promise<T>;
  /** True when `err` is the backend's "duplicate key" error. */
  isUniqueViolation(err: unknown): boolean;
  /** Release connections and file handles; a second call does nothing. */
  close(): Promise<void>;
}

/**
 * The embedded backend: SQLite through `node:sqlite` (`DatabaseSync`), WAL
 * journal, a busy timeout so a second process waits instead of failing,
 * foreign keys on, and files only their owner may read (they hold the audit
 * trail).
 *
 * `node:sqlite` is synchronous and the driver shares one connection, so calls
 * run one at a time in arrival order and a transaction keeps the turn from
 * `BEGIN` to `COMMIT`: another caller's statements never land inside it. Two
 * drivers on one file in one process are not supported: the second's
 * `BEGIN IMMEDIATE` would block the thread the first needs to commit.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Row, SqlDriver, SqlParam, SqlQueryer, TxOptions } from "./sql_driver.ts";
import { SQLITE_MIGRATIONS } from "./sqlite_migrations.ts";

/** How long a statement waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5_000;
/**
 * Prepared statements kept for reuse. The store's SQL is a few dozen texts plus
 * one per batch size of session events; past the bound the oldest is dropped
 * and prepared again when next used.
 */
const MAX_CACHED_STATEMENTS = 128;

type SqliteValue = string | number | null | Uint8Array;

/**
 * Open (creating if needed) the SQLite database at `path` (a file, or
 * `:memory:`) and bring its schema up to date.
 */
export async function openSqliteDriver(path: string): Promise<SqliteDriver> {
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (path !== ":memory:") db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("PRAGMA synchronous = NORMAL");
    migrate(db);
    // The file holds the audit trail (statements, console output): owner only.
    if (path !== ":memory:") {
      for (const f of [path, `${path}-wal`, `${path}-shm`]) {
        try {
          await Deno.chmod(f, 0o600);
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteDriver(db);
}

function migrate(db: DatabaseSync): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
  );
  for (const m of SQLITE_MIGRATIONS) {
    // IMMEDIATE takes the write lock first, so two processes opening one
    // fresh file cannot both decide a migration is missing.
    db.exec("BEGIN IMMEDIATE");
    try {
      const done = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").get(m.version);
      if (!done) {
        db.exec(m.sql);
        db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
          .run(m.version, new Date().toISOString());
      }
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw new Error(`Cannot apply SQLite migration ${m.version}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}

/**
 * The store's SQL in SQLite's words: `$N` becomes `?N` (same number, so a
 * parameter may be used twice) and `COLLATE "C"` becomes `COLLATE BINARY`
 * (both compare UTF-8 bytes).
 */
function translate(sql: string): string {
  return sql.replaceAll(/\$(\d+)/g, "?$1").replaceAll('COLLATE "C"', "COLLATE BINARY");
}

function toSqlite(params: readonly SqlParam[]): SqliteValue[] {
  return params.map((p) => typeof p === "boolean" ? (p ? 1 : 0) : p);
}

/** The SQLite {@linkcode SqlDriver}; build it with {@linkcode openSqliteDriver}. */
export class SqliteDriver implements SqlDriver {
  readonly kind = "sqlite" as const;
  #db: DatabaseSync;
  #stmts = new Map<string, StatementSync>();
  #closed = false;
  /**
   * Settles when the current call is done; each call chains on it. Its length
   * is the number of callers waiting, which the gateway's callers bound.
   */
  #turn: Promise<unknown> = Promise.resolve();
  /** What a transaction's `fn` runs statements through: no waiting for the turn it holds. */
  #inTx: SqlQueryer = {
    all: (sql, params = []) => Promise.resolve(this.#all(sql, params)),
    run: (sql, params = []) => Promise.resolve(this.#run(sql, params)),
  };

  /** Use {@linkcode openSqliteDriver}, which migrates first. */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (s) return s;
    s = this.#db.prepare(translate(sql));
    if (this.#stmts.size >= MAX_CACHED_STATEMENTS) {
      this.#stmts.delete(this.#stmts.keys().next().value!);
    }
    this.#stmts.set(sql, s);
    return s;
  }

  #all(sql: string, params: readonly SqlParam[]): Row[] {
    return this.#stmt(sql).all(...toSqlite(params)) as Row[];
  }

  #run(sql: string, params: readonly SqlParam[]): number {
    return Number(this.#stmt(sql).run(...toSqlite(params)).changes);
  }

  #inTurn<T>(fn: () => T | Promise<T>): Promise<T> {
    const out = this.#turn.then(fn);
    this.#turn = out.catch(() => {});
    return out;
  }

  all(sql: string, params: readonly SqlParam[] = []): Promise<Row[]> {
    return this.#inTurn(() => this.#all(sql, params));
  }

  run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    return this.#inTurn(() => this.#run(sql, params));
  }

  /**
   * `BEGIN IMMEDIATE` takes the database's write lock at once, which already
   * excludes every other writer: `exclusiveTable` needs nothing more here.
   */
  tx<T>(fn: (q: SqlQueryer) => Promise<T>, _opts?: TxOptions): Promise<T> {
    return this.#inTurn(async () => {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        const out = await fn(this.#inTx);
        this.#db.exec("COMMIT");
        return out;
      } catch (err) {
        this.#db.exec("ROLLBACK");
        throw err;
      }
    });
  }

  isUniqueViolation(err: unknown): boolean {
    return err instanceof Error && /UNIQUE constraint failed|PRIMARY KEY/i.test(err.message);
  }

  close(): Promise<void> {
    return this.#inTurn(() => {
      if (this.#closed) return;
      this.#closed = true;
      this.#stmts.clear();
      this.#db.close();
    });
  }
}

/**
 * The shared backend: PostgreSQL through `npm:postgres`, a small pool, every
 * table in one schema (the URL's `?schema=NAME`, default `public`) so several
 * gateways or test runs can share a database without seeing each other.
 *
 * The store's SQL is already PostgreSQL's; the driver passes it through
 * `sql.unsafe(text, params)` as prepared statements, so parameters are never
 * spliced into the text.
 *
 * @module
 */

import postgres from "postgres";
import { HoopError } from "../../proto/errors.ts";
import { redact } from "../../proto/log.ts";
import { POSTGRES_MIGRATIONS } from "./postgres_migrations.ts";
import type { Row, SqlDriver, SqlParam, SqlQueryer, TxOptions } from "./sql_driver.ts";

/** Pool size: the gateway's store traffic is light; PostgreSQL connections are not free. */
const POOL_MAX = 4;
const CONNECT_TIMEOUT_S = 10;
/**
 * Longest wait between reconnect attempts while the store is down. postgres.js
 * grows its wait to 10-20 s, and queries queue behind it: a store back after a
 * minute's outage went unused (sessions refused, healthz 503) for that long.
 */
export const STORE_RECONNECT_MAX_MS = 1_000;

/** Seconds before reconnect attempt `retries`: doubling from 50 ms to the cap, jittered. */
export function storeReconnectDelayS(retries: number): number {
  const ms = Math.min(50 * 2 ** Math.min(retries, 10), STORE_RECONNECT_MAX_MS);
  return (ms / 2 + Math.random() * ms / 2) / 1000;
}

/** SQLSTATE of a duplicate key. */
const UNIQUE_VIOLATION = "23505";

/** Errors of the socket layer: the server could not be reached at all. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  // The server is shutting down or restarting (admin_shutdown, crash_shutdown, cannot_connect_now).
  "57P01",
  "57P02",
  "57P03",
]);

/**
 * A statement that failed because the server is unreachable becomes one
 * `unavailable` error with a sentence (the API answers 503, a session is
 * refused with it); every other error passes unchanged.
 */
function unreachable(err: unknown): unknown {
  const code = pgCode(err);
  if (!code || !NETWORK_CODES.has(code)) return err;
  const reason = redact(err instanceof Error ? err.message : String(err));
  return new HoopError("unavailable", `The gateway's store is unreachable: ${reason}`, {
    cause: err,
    hint: "the gateway retries by itself; check that its PostgreSQL server is up",
  });
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

type Sql = postgres.Sql;
type PgParams = postgres.ParameterOrJSON<never>[];

function pgCode(err: unknown): string | undefined {
  return (err as { code?: unknown })?.code as string | undefined;
}

/** Turn a failure to reach or log in to PostgreSQL into a diagnosis. */
function diagnose(err: unknown, where: string): unknown {
  const code = pgCode(err);
  const reason = redact(err instanceof Error ? err.message : String(err));
  const hint = "check HOOP_DATABASE_URL and that the server accepts connections from this host";
  if (code && NETWORK_CODES.has(code)) {
    return new HoopError(
      "unavailable",
      `Cannot connect to PostgreSQL at "${where}": ${reason}`,
      { cause: err, hint },
    );
  }
  if (code === "28P01" || code === "28000" || code === "3D000") {
    return new HoopError(
      "failed_precondition",
      `Cannot log in to PostgreSQL at "${where}": ${reason}`,
      { cause: err, hint },
    );
  }
  return err;
}

/**
 * Open the PostgreSQL database at `url` (`postgres://` or `postgresql://`,
 * with an optional `?schema=NAME`), create the schema if needed and migrate it.
 */
export async function openPostgresDriver(url: string): Promise<PostgresDriver> {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new HoopError("invalid_argument", `Cannot open store "${redact(url)}": invalid URL`, {
      cause,
    });
  }
  const schema = u.searchParams.get("schema") ?? "public";
  if (!IDENTIFIER.test(schema)) {
    throw new HoopError(
      "invalid_argument",
      `Cannot open store "${redact(url)}": schema "${schema}" is not a plain identifier`,
    );
  }
  // postgres.js would send unknown URL parameters to the server as settings.
  u.searchParams.delete("schema");
  const where = `${u.hostname || "localhost"}:${u.port || 5432}`;
  const sql = postgres(u.href, {
    max: POOL_MAX,
    connect_timeout: CONNECT_TIMEOUT_S,
    backoff: storeReconnectDelayS,
    onnotice: () => {},
    // Every pooled connection resolves unqualified names in our schema.
    connection: { search_path: `"${schema}"` },
  });
  try {
    await migrate(sql, schema);
  } catch (err) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw diagnose(err, where);
  }
  return new PostgresDriver(sql);
}

async function migrate(sql: Sql, schema: string): Promise<void> {
  // Replicas starting together serialize here; the lock ends with each transaction.
  const lock = (tx: postgres.TransactionSql) =>
    tx`SELECT pg_advisory_xact_lock(hashtext(${"hoop_migrations:" + schema}))`;
  await sql.begin(async (tx) => {
    await lock(tx);
    await tx`CREATE SCHEMA IF NOT EXISTS ${tx(schema)}`;
    await tx`CREATE TABLE IF NOT EXISTS ${tx(schema)}.schema_migrations (
      version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`;
  });
  for (const m of POSTGRES_MIGRATIONS) {
    await sql.begin(async (tx) => {
      await lock(tx);
      const [done] = await tx`SELECT 1 FROM schema_migrations WHERE version = ${m.version}`;
      if (done) return;
      try {
        await tx.unsafe(m.sql);
      } catch (err) {
        throw new Error(
          `Cannot apply PostgreSQL migration ${m.version}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      await tx`INSERT INTO schema_migrations (version, applied_at)
        VALUES (${m.version}, ${new Date().toISOString()})`;
    });
  }
}

/** Statements through a pool or through one transaction's connection. */
function queryer(sql: Sql | postgres.TransactionSql): SqlQueryer {
  // Prepared like postgres.js's tagged templates: parsed once per connection and text.
  const query = (text: string, params: readonly SqlParam[]) =>
    sql.unsafe(text, params as PgParams, { prepare: true });
  return {
    all: async (text, params = []) => {
      try {
        return [...await query(text, params)] as Row[];
      } catch (err) {
        throw unreachable(err);
      }
    },
    run: async (text, params = []) => {
      try {
        return (await query(text, params)).count;
      } catch (err) {
        throw unreachable(err);
      }
    },
  };
}

/** The PostgreSQL {@linkcode SqlDriver}; build it with {@linkcode openPostgresDriver}. */
export class PostgresDriver implements SqlDriver {
  readonly kind = "postgres" as const;
  #sql: Sql;
  #pool: SqlQueryer;
  #closed = false;

  /** Use {@linkcode openPostgresDriver}, which migrates first. */
  constructor(sql: Sql) {
    this.#sql = sql;
    this.#pool = queryer(sql);
  }

  all(sql: string, params?: readonly SqlParam[]): Promise<Row[]> {
    return this.#pool.all(sql, params);
  }

  run(sql: string, params?: readonly SqlParam[]): Promise<number> {
    return this.#pool.run(sql, params);
  }

  async tx<T>(fn: (q: SqlQueryer) => Promise<T>, opts: TxOptions = {}): Promise<T> {
    const table = opts.exclusiveTable;
    if (table !== undefined && !IDENTIFIER.test(table)) {
      throw new Error(`Cannot lock table "${table}": not a plain identifier`);
    }
    try {
      return await this.#sql.begin(async (tx) => {
        // EXCLUSIVE lets plain reads on but queues every other writer until commit.
        if (table !== undefined) await tx.unsafe(`LOCK TABLE "${table}" IN EXCLUSIVE MODE`);
        return await fn(queryer(tx));
      }) as T;
    } catch (err) {
      throw unreachable(err);
    }
  }

  isUniqueViolation(err: unknown): boolean {
    return pgCode(err) === UNIQUE_VIOLATION;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sql.end({ timeout: 1 });
  }
}

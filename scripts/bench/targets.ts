/**
 * The data paths the bench compares and how a PostgreSQL client reaches each.
 *
 * @module
 */
import type { PathProcess } from "./cpu.ts";

/** Ids of the paths, in report order; `--paths` takes these. */
export const PATH_IDS = [
  "direct",
  "ssh",
  "connect",
  "connect-tls",
  "listener",
  "listener-tls",
  "floor-connect",
  "floor-connect-tls",
  "floor-listener",
  "floor-listener-tls",
] as const;

/** One of {@linkcode PATH_IDS}. */
export type PathId = typeof PATH_IDS[number];

/** What each path is, for tables. */
export const PATH_LABELS: Record<PathId, string> = {
  direct: "direct",
  ssh: "ssh -L",
  connect: "hoop connect",
  "connect-tls": "hoop connect (TLS)",
  listener: "gateway listener",
  "listener-tls": "gateway listener (TLS)",
  "floor-connect": "bare relays, connect's hops",
  "floor-connect-tls": "bare relays, connect's hops (TLS)",
  "floor-listener": "bare relays, listener's hops",
  "floor-listener-tls": "bare relays, listener's hops (TLS)",
};

/** Paths with TLS on a hop; `--no-tls` drops them. */
export const TLS_PATHS: readonly PathId[] = [
  "connect-tls",
  "listener-tls",
  "floor-connect-tls",
  "floor-listener-tls",
];

/**
 * The floor of each hoop path: a chain of bare relays (scripts/bench/floor.ts)
 * with the same hops, TLS where the path has it; `--no-floor` drops them.
 */
export const FLOOR_OF = {
  connect: "floor-connect",
  "connect-tls": "floor-connect-tls",
  listener: "floor-listener",
  "listener-tls": "floor-listener-tls",
} as const satisfies Partial<Record<PathId, PathId>>;

/** The floor paths. */
export const FLOOR_PATHS: readonly PathId[] = Object.values(FLOOR_OF);

/** Where and as whom a PostgreSQL client logs in for one path. */
export interface PgTarget {
  id: PathId;
  port: number;
  user: string;
  /** Passed in PGPASSWORD only, never on a command line or in output. */
  password: string;
  database: string;
  /**
   * The client leg itself is TLS (`sslmode=require`): the TLS gateway's
   * listener refuses passwords over plain TCP.
   */
  tls?: boolean;
  /** The processes relaying this path, whose CPU the report shows (none for direct). */
  procs?: PathProcess[];
}

/** libpq environment for `target`: password, TLS only where the path has it, a connect timeout. */
export function pgEnv(target: PgTarget): Record<string, string> {
  return {
    PGPASSWORD: target.password,
    // The other paths would answer an SSLRequest with "N"; skipping it keeps them comparable.
    PGSSLMODE: target.tls ? "require" : "disable",
    PGCONNECT_TIMEOUT: "10",
    PGAPPNAME: "hoop-bench",
  };
}

/** psql connection arguments for `target`. */
export function psqlArgs(target: PgTarget): string[] {
  return ["-h", "127.0.0.1", "-p", String(target.port), "-U", target.user, "-d", target.database];
}

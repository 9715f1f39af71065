/**
 * MySQL connection URIs (`mysql://user:password@host:3306/db?ssl-mode=...`,
 * `mariadb://` too): parsing with named errors and redaction, validated where
 * a connection is created and again by the agent.
 *
 * @module
 */
import { HoopError } from "./errors.ts";
import { portNumber } from "./host_port.ts";
import { redactPostgresUri } from "./postgres_uri.ts";

/** The `mysql` client's `--ssl-mode` values. */
export type MysqlSslMode = "DISABLED" | "PREFERRED" | "REQUIRED" | "VERIFY_CA" | "VERIFY_IDENTITY";
const SSL_MODES: readonly MysqlSslMode[] = [
  "DISABLED",
  "PREFERRED",
  "REQUIRED",
  "VERIFY_CA",
  "VERIFY_IDENTITY",
];

/** A parsed MySQL URI. `password` is secret: never log it. */
export interface MysqlUri {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Empty: no default database. */
  database: string;
  sslMode: MysqlSslMode;
  /** Path of a PEM file of trusted roots (`ssl-ca`). */
  sslCa?: string;
  /** How long connecting (TCP, TLS, login) may take. */
  connectTimeoutMs: number;
}

/** Default of `connect-timeout` when the URI has none. */
export const MYSQL_CONNECT_TIMEOUT_MS = 10_000;
/** The port of a URI that names none. */
export const MYSQL_DEFAULT_PORT = 3306;

/** The URI with its password replaced by `***`. */
export function redactMysqlUri(uri: string): string {
  return redactPostgresUri(uri);
}

/**
 * Parse `mysql://user:password@host:port/database?ssl-mode=REQUIRED&ssl-ca=PATH`.
 * Throws `invalid_argument` naming the problem, with the password redacted.
 */
export function parseMysqlUri(uri: string): MysqlUri {
  const fail = (why: string) =>
    new HoopError(
      "invalid_argument",
      `Cannot use MySQL URI "${redactMysqlUri(uri)}": ${why}`,
      { hint: "the form is mysql://USER:PASSWORD@HOST:3306/DATABASE?ssl-mode=REQUIRED" },
    );
  if (!/^(mysql|mariadb):\/\//i.test(uri)) throw fail('the scheme is not "mysql://"');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw fail("it is not a valid URI");
  }
  const decode = (s: string, what: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw fail(`the ${what} has an invalid percent-encoding`);
    }
  };
  let host = decode(url.hostname, "host");
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const user = decode(url.username, "user");
  const password = decode(url.password, "password");
  const database = decode(url.pathname.replace(/^\//, ""), "database");
  let sslMode = "PREFERRED";
  /** As written, for the error: the upper-cased form is only for comparing. */
  let sslModeText = sslMode;
  let sslCa: string | undefined;
  let connectTimeoutMs = MYSQL_CONNECT_TIMEOUT_MS;
  for (const [k, v] of url.searchParams) {
    switch (k.replaceAll("_", "-").toLowerCase()) {
      case "ssl-mode":
        sslMode = v.toUpperCase();
        sslModeText = v;
        break;
      case "ssl-ca":
        sslCa = v;
        break;
      case "connect-timeout": {
        const s = Number(v);
        if (!Number.isFinite(s) || s <= 0) {
          throw fail(`connect-timeout "${v}" is not a number of seconds`);
        }
        connectTimeoutMs = s * 1000;
        break;
      }
      default:
        throw fail(
          `the parameter "${k}" is not supported: use ssl-mode, ssl-ca or connect-timeout`,
        );
    }
  }
  if (!host) throw fail("it names no host");
  if (database.includes("/")) throw fail(`the database "${database}" contains "/"`);
  const port = url.port === "" ? MYSQL_DEFAULT_PORT : portNumber(url.port);
  if (port === undefined) throw fail(`the port "${url.port}" is invalid`);
  if (!user) throw fail("it names no user");
  if (!SSL_MODES.includes(sslMode as MysqlSslMode)) {
    throw fail(`ssl-mode "${sslModeText}" is not one of ${SSL_MODES.join(", ")}`);
  }
  if (sslCa !== undefined && sslMode !== "VERIFY_CA" && sslMode !== "VERIFY_IDENTITY") {
    throw fail("ssl-ca needs ssl-mode=VERIFY_CA or VERIFY_IDENTITY");
  }
  return {
    host,
    port,
    user,
    password,
    database,
    sslMode: sslMode as MysqlSslMode,
    sslCa,
    connectTimeoutMs,
  };
}

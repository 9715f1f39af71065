/**
 * PostgreSQL connection URIs (`postgres://user:password@host:port/db?...`):
 * parsing with named errors and redaction. Kept apart from the proxy so the
 * CLI can validate `hoop run --postgres` without loading TLS.
 *
 * @module
 */
import { HoopError } from "./errors.ts";
import { portNumber } from "./host_port.ts";
import { redactSecretParams } from "./redact.ts";

/** libpq's `sslmode` values. */
export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
const SSL_MODES: readonly SslMode[] = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
];

/** A parsed connection URI. `password` is secret: never log it. */
export interface PostgresUri {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  sslmode: SslMode;
  /** Path of a PEM file of trusted roots, or `system`. */
  sslrootcert?: string;
  /** How long connecting (TCP, TLS, login) may take. */
  connectTimeoutMs: number;
  /** Run-time parameters for the StartupMessage (`application_name`, `options`, GUCs...). */
  params: Record<string, string>;
}

/** Default of `connect_timeout` when the URI has none. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** libpq connection keywords that are not server parameters and that hoop ignores. */
const IGNORED_KEYWORDS = new Set([
  "fallback_application_name",
  "keepalives",
  "keepalives_idle",
  "keepalives_interval",
  "keepalives_count",
  "tcp_user_timeout",
  "target_session_attrs",
  "gssencmode",
  "krbsrvname",
  "gsslib",
  "sslcompression",
  "sslsni",
  "sslcrl",
  "sslcrldir",
  "ssl_min_protocol_version",
  "ssl_max_protocol_version",
  "requirepeer",
  "passfile",
  "load_balance_hosts",
]);
/** libpq keywords hoop does not implement: refusing them beats silently weaker security. */
const UNSUPPORTED_KEYWORDS = new Set([
  "sslcert",
  "sslkey",
  "sslpassword",
  "sslcertmode",
  "channel_binding",
  "service",
  "hostaddr",
  "require_auth",
]);

/** The URI with its password (user info and `password=` parameter) replaced by `***`. */
export function redactPostgresUri(uri: string): string {
  // The URL parser drops tabs and newlines and decodes keys, so "pass%77ord=" and
  // "pass\nword=" name the password too (found by postgres_uri_fuzz_test.ts).
  let out = redactSecretParams(uri.replace(/[\t\n\r]/g, ""), { uri: true });
  // Without a scheme ("user:pw@host/db", a common slip) the user info starts the text.
  const schemeEnd = out.indexOf("://");
  const start = schemeEnd >= 0 ? schemeEnd + 3 : 0;
  const at = out.lastIndexOf("@");
  if (at > start) {
    const userinfo = out.slice(start, at);
    const colon = userinfo.indexOf(":");
    if (colon >= 0) {
      out = out.slice(0, start) + userinfo.slice(0, colon) + ":***" + out.slice(at);
    }
  }
  return out;
}

/**
 * Parse `postgres://user:password@host:port/database?sslmode=...`
 * (`postgresql://` too). Throws `invalid_argument` naming the problem, with
 * the password redacted.
 */
export function parsePostgresUri(uri: string): PostgresUri {
  const fail = (why: string) =>
    new HoopError(
      "invalid_argument",
      `Cannot use PostgreSQL URI "${redactPostgresUri(uri)}": ${why}`,
      { hint: "the form is postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=require" },
    );
  const m = /^(postgres|postgresql):\/\//i.exec(uri);
  if (!m) throw fail('the scheme is not "postgres://" or "postgresql://"');
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
  let portText = url.port;
  let user = decode(url.username, "user");
  let password = decode(url.password, "password");
  let database = decode(url.pathname.replace(/^\//, ""), "database");
  let sslmode: string = "prefer";
  let sslrootcert: string | undefined;
  let connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
  const params: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    switch (k) {
      case "host":
        host = v;
        break;
      case "port":
        portText = v;
        break;
      case "user":
        user = v;
        break;
      case "password":
        password = v;
        break;
      case "dbname":
        database = v;
        break;
      case "sslmode":
        sslmode = v;
        break;
      case "sslrootcert":
        sslrootcert = v;
        break;
      case "connect_timeout": {
        const s = Number(v);
        if (!Number.isFinite(s) || s < 0) {
          throw fail(`connect_timeout "${v}" is not a number of seconds`);
        }
        // libpq: 0 means wait forever; hoop still bounds it to the default.
        if (s > 0) connectTimeoutMs = Math.max(2, s) * 1000;
        break;
      }
      default:
        if (UNSUPPORTED_KEYWORDS.has(k)) {
          throw fail(`the parameter "${k}" is not supported by hoop`);
        }
        if (!IGNORED_KEYWORDS.has(k)) params[k] = v;
    }
  }
  if (!host) host = "localhost";
  if (host.startsWith("/")) throw fail("Unix-domain sockets are not supported; use a TCP host");
  if (host.includes(",")) throw fail("several hosts are not supported; name one host");
  const port = portText === "" ? 5432 : portNumber(portText);
  if (port === undefined) {
    throw fail(`the port "${portText}" is invalid`);
  }
  if (!user) throw fail("it names no user");
  if (!SSL_MODES.includes(sslmode as SslMode)) {
    throw fail(`sslmode "${sslmode}" is not one of ${SSL_MODES.join(", ")}`);
  }
  return {
    host,
    port,
    user,
    password,
    database: database || user,
    sslmode: sslmode as SslMode,
    sslrootcert,
    connectTimeoutMs,
    params,
  };
}

/**
 * The agent's login to the real PostgreSQL server with the connection's own
 * credentials: trust, cleartext password, MD5 and SCRAM-SHA-256. The
 * password never leaves the agent and is never logged.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { closeOnAbort, closeQuietly, concatBytes, writeAll } from "../../proto/bytes.ts";
import type { Logger } from "../../proto/log.ts";
import {
  AUTH_CLEARTEXT_PASSWORD,
  AUTH_MD5_PASSWORD,
  AUTH_OK,
  AUTH_SASL,
  AUTH_SASL_CONTINUE,
  AUTH_SASL_FINAL,
  cstringList,
  encodeAuthenticationOk,
  encodePasswordMessage,
  encodeSaslInitialResponse,
  encodeSaslResponse,
  encodeStartup,
  MessageReader,
  parseErrorResponse,
  readInt32,
} from "../../proto/pgwire/mod.ts";
import type { PostgresUri } from "../../proto/postgres_uri.ts";
import { failureReason, PostgresConnectError, serverAddr } from "./connect_error.ts";
import { SCRAM_SHA_256, ScramClient } from "./scram.ts";
import { openTransport } from "./transport.ts";

/**
 * Largest server message read during the login (authentication requests and
 * errors are small); a bigger one fails the login as a protocol error.
 */
const MAX_LOGIN_MESSAGE_BYTES = 64 * 1024;

function md5Hex(data: string | Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

/** libpq's MD5 answer: `md5` + md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Uint8Array): string {
  const inner = new TextEncoder().encode(md5Hex(password + user));
  return "md5" + md5Hex(concatBytes([inner, salt]));
}

/** Options of {@linkcode connectPostgres}. */
export interface ConnectPostgresOptions {
  /** Extra startup parameters (the client's `application_name`...); the URI's own win. */
  params?: Record<string, string>;
  /** Debug lines about the login (never the password). */
  log?: Logger;
  /** The server connection opened ahead ({@linkcode openEarly}); opened here when absent. */
  early?: EarlyTransport;
}

/** A connection to the server opened before the login can start. */
export interface EarlyTransport {
  readonly conn: Promise<Deno.Conn>;
  /** Close it once open: the session ended before its login. */
  abandon(): void;
}

/**
 * Start opening the server's connection (TCP, then TLS as `sslmode` says)
 * while the session is still pairing and the client's startup is on its way:
 * the server forks its backend on accept, which is most of the wait. Bounded
 * by the URI's `connect_timeout`. A server connection closed before any
 * startup leaves nothing in PostgreSQL's log.
 */
export function openEarly(cfg: PostgresUri): EarlyTransport {
  const conn = openTransport(cfg, AbortSignal.timeout(cfg.connectTimeoutMs));
  // Awaited by the login, or dropped by abandon(): never an unhandled rejection.
  conn.catch(() => {});
  return { conn, abandon: () => void conn.then(closeQuietly, () => {}) };
}

/**
 * Connect and log in to the server of `cfg`. `hello` is what the client must
 * be sent before splicing: an `AuthenticationOk` followed by every server byte
 * already read past it (`ParameterStatus`...). Opening the connection and the
 * login are each bounded by the URI's `connect_timeout`. Throws
 * {@linkcode PostgresConnectError} with a user-facing message.
 */
export async function connectPostgres(
  cfg: PostgresUri,
  opts: ConnectPostgresOptions = {},
): Promise<{ conn: Deno.Conn; hello: Uint8Array }> {
  const conn = await (opts.early ?? openEarly(cfg)).conn;
  const signal = AbortSignal.timeout(cfg.connectTimeoutMs);
  try {
    // Bound the login too: a server that accepts and then stays silent must not hang the session.
    return await closeOnAbort(conn, signal, async () => {
      const startup: Record<string, string> = { ...opts.params, ...cfg.params };
      startup.user = cfg.user;
      startup.database = cfg.database;
      await writeAll(conn, encodeStartup(startup));
      const reader = new MessageReader(conn, { maxBodyBytes: MAX_LOGIN_MESSAGE_BYTES });
      await authenticate(reader, conn, cfg, opts.log);
      return { conn, hello: concatBytes([encodeAuthenticationOk(), reader.takeBuffered()]) };
    });
  } catch (err) {
    closeQuietly(conn);
    if (err instanceof PostgresConnectError) throw err;
    throw new PostgresConnectError(
      "unavailable",
      `the agent could not log in to ${serverAddr(cfg)} as "${cfg.user}": ${
        failureReason(err, cfg, signal)
      }`,
      "08006",
      { cause: err },
    );
  }
}

/** Names of the authentication methods hoop refuses, for the message. */
const UNSUPPORTED_METHODS: Record<number, string> = { 2: "Kerberos V5", 7: "GSSAPI", 9: "SSPI" };

async function authenticate(
  reader: MessageReader,
  conn: Deno.Conn,
  cfg: PostgresUri,
  log?: Logger,
): Promise<void> {
  const server = serverAddr(cfg);
  const loginFailed = (why: string, sqlstate = "28000") =>
    new PostgresConnectError(
      "unauthenticated",
      `the agent could not log in to ${server} as "${cfg.user}": ${why}`,
      sqlstate,
    );
  const needPassword = () => {
    if (!cfg.password) {
      throw loginFailed("the server asks for a password and the connection URI has none");
    }
  };
  let scram: ScramClient | null = null;
  for (;;) {
    const msg = await reader.next();
    if (!msg) throw loginFailed("the server closed the connection during authentication", "08006");
    if (msg.type === "E") {
      const e = parseErrorResponse(msg.body);
      throw loginFailed(e.message, e.code);
    }
    if (msg.type === "N" || msg.type === "v") continue; // notices; protocol negotiation of 3.0 is a no-op
    if (msg.type !== "R" || msg.body.length < 4) {
      throw loginFailed(`unexpected message "${msg.type}" during authentication`, "08P01");
    }
    const code = readInt32(msg.body);
    switch (code) {
      case AUTH_OK:
        log?.debug("postgres login ok", { server, user: cfg.user });
        return;
      case AUTH_CLEARTEXT_PASSWORD:
        needPassword();
        log?.debug("postgres login with a cleartext password", { server });
        await writeAll(conn, encodePasswordMessage(cfg.password));
        break;
      case AUTH_MD5_PASSWORD:
        needPassword();
        log?.debug("postgres login with md5", { server });
        await writeAll(
          conn,
          encodePasswordMessage(md5Password(cfg.user, cfg.password, msg.body.slice(4, 8))),
        );
        break;
      case AUTH_SASL: {
        const mechanisms = cstringList(msg.body, 4);
        if (!mechanisms.includes(SCRAM_SHA_256)) {
          throw loginFailed(
            `the server offers SASL mechanisms ${
              mechanisms.join(", ")
            }; hoop speaks ${SCRAM_SHA_256}`,
          );
        }
        needPassword();
        log?.debug("postgres login with scram-sha-256", { server });
        scram = new ScramClient(cfg.password);
        await writeAll(conn, encodeSaslInitialResponse(SCRAM_SHA_256, scram.clientFirst()));
        break;
      }
      case AUTH_SASL_CONTINUE:
        if (!scram) {
          throw loginFailed("the server continued a SASL exchange that was not started", "08P01");
        }
        await writeAll(conn, encodeSaslResponse(await scram.clientFinal(msg.body.subarray(4))));
        break;
      case AUTH_SASL_FINAL:
        if (!scram) {
          throw loginFailed("the server finished a SASL exchange that was not started", "08P01");
        }
        try {
          scram.verifyServerFinal(msg.body.subarray(4));
        } catch (err) {
          throw loginFailed((err as Error).message, "28000");
        }
        break;
      default:
        throw loginFailed(
          `the server asks for ${
            UNSUPPORTED_METHODS[code] ?? `authentication method ${code}`
          }, which hoop does not support`,
        );
    }
  }
}

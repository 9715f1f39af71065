/**
 * The agent's client side towards the real MySQL / MariaDB server: the
 * transport per `ssl-mode`, and the login with the connection's own
 * credentials, following the server's auth switches (native password,
 * `caching_sha2_password` fast and full paths, MariaDB `client_ed25519`).
 *
 * It runs in two steps because the agent must greet its own client with the
 * real server's greeting (version, capabilities, connection id) before it
 * knows the client's capabilities: {@linkcode openMysql} dials and reads the
 * greeting, {@linkcode loginMysql} logs in with the capabilities agreed.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { closeQuietly, writeAll } from "../../proto/bytes.ts";
import { HoopError } from "../../proto/errors.ts";
import { formatHostPort } from "../../proto/host_port.ts";
import { describeNetError } from "../../proto/net_error.ts";
import { NodeSocketConn } from "../../proto/node_socket_conn.ts";
import {
  Capability,
  encodeHandshakeResponse,
  encodePacket,
  type Greeting,
  Header,
  MAX_HANDSHAKE_BYTES,
  PacketReader,
  parseAuthSwitch,
  parseErr,
  parseGreeting,
} from "../../proto/mysql/mod.ts";
import type { MysqlUri } from "../../proto/mysql_uri.ts";
import { authAnswer, rsaEncryptedPassword } from "./auth.ts";

/** A failure to reach or log in to the server, with the error code the client is told. */
export class MysqlConnectError extends HoopError {
  readonly errno: number;
  readonly sqlstate: string;
  constructor(
    code: "unavailable" | "unauthenticated" | "invalid_argument",
    message: string,
    errno: number,
    sqlstate = "HY000",
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.name = "MysqlConnectError";
    this.errno = errno;
    this.sqlstate = sqlstate;
  }
}

/** CR_CONN_HOST_ERROR: the client library's "Can't connect to server". */
const CR_CONN_HOST_ERROR = 2003;
/** CR_SSL_CONNECTION_ERROR */
const CR_SSL_CONNECTION_ERROR = 2026;
/** Longest auth exchange (switches and more-data rounds) before hoop gives up. */
const MAX_AUTH_ROUNDS = 8;

/** A server connection after its greeting, before the login. */
export interface OpenedServer {
  conn: Deno.Conn;
  reader: PacketReader;
  greeting: Greeting;
  /** Sequence id of the next packet the agent sends. */
  seq: number;
  /**
   * Present when `ssl-mode` asks for TLS: sends the `SSLRequest` (whose
   * capabilities the server keeps for the whole login, so it is built with
   * the login's own) and resolves with the encrypted connection.
   */
  startTls?: (sslRequest: Uint8Array) => Promise<Deno.Conn>;
}

const addr = (cfg: MysqlUri) => formatHostPort({ hostname: cfg.host, port: cfg.port });

function unreachable(cfg: MysqlUri, err: unknown, signal: AbortSignal): MysqlConnectError {
  const why = signal.aborted
    ? `timed out after ${cfg.connectTimeoutMs / 1000} s`
    : (err as { code?: string }).code === "ECONNREFUSED"
    ? "connection refused"
    : describeNetError(err);
  return new MysqlConnectError(
    "unavailable",
    `could not reach ${addr(cfg)}: ${why}`,
    CR_CONN_HOST_ERROR,
    "08S01",
    { cause: err },
  );
}

function tlsFailed(cfg: MysqlUri, why: string, cause?: unknown): MysqlConnectError {
  return new MysqlConnectError(
    "unavailable",
    `could not set up TLS with ${addr(cfg)}: ${why}`,
    CR_SSL_CONNECTION_ERROR,
    "08S01",
    cause === undefined ? undefined : { cause },
  );
}

async function readGreeting(conn: Deno.Conn, cfg: MysqlUri) {
  const reader = new PacketReader(conn);
  const msg = await reader.next(MAX_HANDSHAKE_BYTES);
  if (!msg) throw new MysqlConnectError("unavailable", `${addr(cfg)} closed the connection`, 2013);
  if (msg.payload[0] === Header.ERR) {
    const e = parseErr(msg.payload);
    throw new MysqlConnectError(
      "unavailable",
      `${addr(cfg)} refused: ${e.message}`,
      e.code,
      e.sqlstate,
    );
  }
  return { reader, greeting: parseGreeting(msg.payload), seq: msg.lastSeq + 1 };
}

/**
 * Dial the server of `cfg` and read its greeting. When `ssl-mode` asks for
 * TLS and the server offers it, the result's `startTls` does the upgrade at
 * the login; a server without TLS fails here for the modes that require it.
 */
export async function openMysql(cfg: MysqlUri, signal: AbortSignal): Promise<OpenedServer> {
  let tcp: Deno.TcpConn;
  try {
    tcp = await Deno.connect({ hostname: cfg.host, port: cfg.port, signal });
    tcp.setNoDelay(true);
  } catch (err) {
    throw unreachable(cfg, err, signal);
  }
  let first;
  try {
    first = await readGreeting(tcp, cfg);
  } catch (err) {
    tcp.close();
    throw err;
  }
  const hasSsl = (first.greeting.capabilities & Capability.SSL) !== 0;
  if (cfg.sslMode === "DISABLED" || (cfg.sslMode === "PREFERRED" && !hasSsl)) {
    return { conn: tcp, ...first };
  }
  if (!hasSsl) {
    tcp.close();
    throw tlsFailed(cfg, `the server does not support SSL, but ssl-mode is ${cfg.sslMode}`);
  }
  if (cfg.sslMode === "VERIFY_CA" || cfg.sslMode === "VERIFY_IDENTITY") {
    let caCerts: string[] | undefined;
    try {
      caCerts = cfg.sslCa ? [await Deno.readTextFile(cfg.sslCa)] : undefined;
    } catch (err) {
      tcp.close();
      throw tlsFailed(cfg, `cannot read ssl-ca "${cfg.sslCa}": ${describeNetError(err)}`, err);
    }
    const startTls = async (request: Uint8Array) => {
      try {
        await writeAll(tcp, encodePacket(first.seq, request));
        const secure = await Deno.startTls(tcp, {
          hostname: cfg.host,
          caCerts,
          unsafelyDisableHostnameVerification: cfg.sslMode !== "VERIFY_IDENTITY",
        });
        await secure.handshake();
        return secure;
      } catch (err) {
        closeQuietly(tcp);
        throw tlsFailed(cfg, describeNetError(err), err);
      }
    };
    return { conn: tcp, ...first, startTls };
  }
  // Unverified TLS (PREFERRED, REQUIRED) needs node:tls, which cannot take over
  // Deno's socket: start again on a node socket.
  tcp.close();
  const sock = net.connect({ host: cfg.host, port: cfg.port, noDelay: true, allowHalfOpen: true });
  const onAbort = () => sock.destroy(new Deno.errors.TimedOut("timed out"));
  signal.addEventListener("abort", onAbort);
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", reject);
    });
    const plain = new NodeSocketConn(sock);
    const again = await readGreeting(plain, cfg);
    const startTls = async (request: Uint8Array) => {
      try {
        await writeAll(plain, encodePacket(again.seq, request));
        plain.detach();
        const secure = tls.connect({
          socket: sock,
          rejectUnauthorized: false,
          servername: net.isIP(cfg.host) ? undefined : cfg.host,
        });
        await new Promise<void>((resolve, reject) => {
          secure.once("secureConnect", resolve);
          secure.once("error", reject);
        });
        return new NodeSocketConn(secure);
      } catch (err) {
        sock.destroy();
        throw tlsFailed(cfg, describeNetError(err), err);
      }
    };
    return { conn: plain, ...again, startTls };
  } catch (err) {
    sock.destroy();
    if (err instanceof MysqlConnectError) throw err;
    throw unreachable(cfg, err, signal);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** What the client asked for, carried into the agent's own login. */
export interface LoginRequest {
  capabilities: number;
  mariadbCapabilities: number;
  charset: number;
  maxPacket: number;
  /** The client's database when the URI names none. */
  database?: string;
  attrs?: Uint8Array;
}

/** A logged-in server connection (encrypted when `ssl-mode` said so). */
export interface LoggedIn {
  conn: Deno.Conn;
  reader: PacketReader;
  /** The server's final OK body. */
  ok: Uint8Array;
  tls: boolean;
}

/**
 * Log in to `server` as the URI's user. Resolves with the connection and the
 * server's final OK body; throws {@linkcode MysqlConnectError} with the server's code and
 * message when it refuses.
 */
export async function loginMysql(
  server: OpenedServer,
  cfg: MysqlUri,
  req: LoginRequest,
): Promise<LoggedIn> {
  const g = server.greeting;
  const database = cfg.database || req.database || "";
  let caps = (req.capabilities & g.capabilities) |
    Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH;
  caps &= ~(Capability.COMPRESS | Capability.ZSTD_COMPRESSION | Capability.LOCAL_FILES |
    Capability.CONNECT_WITH_DB | Capability.SSL);
  if (database) caps |= Capability.CONNECT_WITH_DB;
  const tls = server.startTls !== undefined;
  if (tls) caps |= Capability.SSL;
  if (!(g.capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
    caps &= ~Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA;
  }
  if (!req.attrs) caps &= ~Capability.CONNECT_ATTRS;
  let plugin = g.authPlugin;
  let scramble = g.scramble;
  const first = authAnswer(plugin, cfg.password, scramble);
  if (!first) plugin = "mysql_native_password";
  const body = encodeHandshakeResponse({
    capabilities: caps >>> 0,
    maxPacket: req.maxPacket || 0x1000000,
    charset: req.charset || g.charset,
    mariadbCapabilities: req.mariadbCapabilities & g.mariadbCapabilities,
    sslRequest: false,
    user: cfg.user,
    authResponse: first ?? authAnswer(plugin, cfg.password, scramble)!,
    database,
    authPlugin: plugin,
    attrs: req.attrs,
  });
  let { conn, reader, seq } = server;
  if (server.startTls) {
    conn = await server.startTls(body.subarray(0, 32));
    reader = new PacketReader(conn);
    seq++;
  }
  await writeAll(conn, encodePacket(seq, body));
  const refused = (message: string, errno = 1045, sqlstate = "28000") =>
    new MysqlConnectError("unauthenticated", message, errno, sqlstate);
  for (let round = 0; round < MAX_AUTH_ROUNDS; round++) {
    const msg = await reader.next(MAX_HANDSHAKE_BYTES);
    if (!msg) throw refused(`${addr(cfg)} closed the connection during the login`, 2013, "08S01");
    const p = msg.payload;
    const next = (answer: Uint8Array) => writeAll(conn, encodePacket(msg.lastSeq + 1, answer));
    if (p[0] === Header.OK) return { conn, reader, ok: p, tls };
    if (p[0] === Header.ERR) {
      const e = parseErr(p);
      throw refused(e.message, e.code, e.sqlstate);
    }
    if (p[0] === Header.AUTH_SWITCH) {
      const sw = parseAuthSwitch(p);
      const answer = authAnswer(sw.plugin, cfg.password, sw.data);
      if (!answer) {
        throw refused(
          `the server asks for the authentication plugin "${sw.plugin}", which hoop does not support`,
          1251,
          "08004",
        );
      }
      plugin = sw.plugin;
      scramble = sw.data;
      if (sw.plugin === "mysql_clear_password" && !tls) {
        throw refused(
          'the server asks for the password in clear ("mysql_clear_password") without TLS: use ssl-mode=REQUIRED',
          1251,
          "08004",
        );
      }
      await next(answer);
      continue;
    }
    if (p[0] === Header.AUTH_MORE && plugin === "caching_sha2_password") {
      if (p[1] === 3) continue; // fast path succeeded: the OK follows
      if (p[1] === 4) {
        // Full authentication: the password in clear over TLS, else RSA-encrypted.
        if (tls) {
          await next(new TextEncoder().encode(cfg.password + "\0"));
          continue;
        }
        await next(Uint8Array.of(2));
        const key = await reader.next(MAX_HANDSHAKE_BYTES);
        if (!key || key.payload[0] !== Header.AUTH_MORE) {
          throw refused(
            "the server sent no RSA public key for caching_sha2_password",
            2061,
            "08004",
          );
        }
        const pem = new TextDecoder().decode(key.payload.subarray(1));
        let encrypted: Uint8Array;
        try {
          encrypted = rsaEncryptedPassword(cfg.password, scramble, pem);
        } catch (err) {
          throw refused(
            `the server's RSA public key is unusable: ${describeNetError(err)}`,
            2061,
            "08004",
          );
        }
        await writeAll(conn, encodePacket(key.lastSeq + 1, encrypted));
        continue;
      }
    }
    throw refused(
      `unexpected login message 0x${p[0]?.toString(16)} from the server`,
      2027,
      "08S01",
    );
  }
  throw refused("the login took too many rounds", 2027, "08S01");
}

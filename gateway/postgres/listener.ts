/**
 * The gateway's PostgreSQL listener (`--postgres-listen`): database clients
 * connect straight to the gateway — user = the hoop user's email, password =
 * a hoop token (or the account password), database = the connection name.
 * The gateway authenticates and authorizes before any byte reaches the agent,
 * then hands the socket to the broker as a local client: one relay process
 * fewer than `hoop connect`.
 *
 * The client's startup is answered here; the agent receives a fresh startup
 * packet (the prelude) and logs in to the real server with its own
 * credentials, whose `AuthenticationOk` and the rest pass to the client as is.
 * Unlike `hoop connect`, this hop cannot forward the client's raw startup: it
 * has already run the password exchange itself, so a protocol minor or `_pq_.`
 * option reaching the agent would make it answer `NegotiateProtocolVersion`
 * after authentication, out of order. The prelude is therefore plain 3.0 with
 * only `FORWARDED_PARAMS`.
 *
 * With a certificate the listener speaks TLS (`listener_tls.ts`) and refuses
 * passwords over plain TCP unless told it may (`insecure`). Cancel requests
 * are routed by a key of the listener's own (`cancel_keys.ts`): the backend's
 * `BackendKeyData` is swapped on its way to the client (`backend_hello.ts`),
 * and a matching `CancelRequest` becomes a short session of its own whose
 * prelude is the real key, which the agent's front end forwards to the server.
 *
 * @module
 */
import { acceptLoop } from "../../proto/accept_loop.ts";
import { closeQuietly, writeAll } from "../../proto/bytes.ts";
import { HoopError } from "../../proto/errors.ts";
import { formatHostPort, type HostPort } from "../../proto/host_port.ts";
import type { Logger } from "../../proto/log.ts";
import { NodeSocketListener } from "../../proto/node_socket_conn.ts";
import {
  AUTH_CLEARTEXT_PASSWORD,
  encodeAuthentication,
  encodeCancel,
  encodeErrorResponse,
  encodeStartup,
  MessageReader,
} from "../../proto/pgwire/mod.ts";
import { authenticatePassword, authenticateToken, canUse } from "../auth.ts";
import type { LoginThrottle } from "../login_throttle.ts";
import type { SessionBroker } from "../broker/mod.ts";
import type { PresenceRegistry } from "../presence.ts";
import type { Store, Token, User } from "../store/store.ts";
import { relayBackendHello } from "./backend_hello.ts";
import { type BackendKey, CancelKeys } from "./cancel_keys.ts";
import { negotiateListenerStartup } from "./listener_startup.ts";
import { ListenerTls, type ListenerTlsFiles } from "./listener_tls.ts";

/** A client must finish its startup and password this fast. */
const STARTUP_TIMEOUT_MS = 15_000;

/** Largest password message accepted (a token is ~50 bytes). */
const MAX_PASSWORD_BYTES = 4096;

/** Startup parameters passed on to the agent (the rest are the gateway's or the agent's). */
const FORWARDED_PARAMS = [
  "application_name",
  "client_encoding",
  "DateStyle",
  "TimeZone",
  "options",
];

/** What the listener needs from the gateway. */
export interface PostgresListenerContext {
  store: Store;
  presence: PresenceRegistry;
  broker: SessionBroker;
  log: Logger;
  /** Slows password guessing; shared with the API's login. */
  throttle: LoginThrottle;
  /** PEM certificate and key: TLS on this port (after `SSLRequest`, or direct). */
  tls?: ListenerTlsFiles;
  /**
   * Accept password logins over plain TCP although `tls` is set
   * (`--postgres-listen-insecure`); by default they are refused.
   */
  insecure?: boolean;
}

/** The listener's state shared by its connections. */
interface ListenerState {
  ctx: PostgresListenerContext;
  tls?: ListenerTls;
  keys: CancelKeys;
}

/** A running PostgreSQL listener. */
export interface PostgresListener {
  readonly addr: HostPort;
  close(): void;
}

/** Listen for PostgreSQL clients on `addr`. */
export async function startPostgresListener(
  addr: HostPort,
  ctx: PostgresListenerContext,
): Promise<PostgresListener> {
  const state: ListenerState = {
    ctx,
    tls: ctx.tls ? new ListenerTls(ctx.tls) : undefined,
    keys: new CancelKeys(),
  };
  // With TLS, node:net: node:tls upgrades its sockets fastest (see listener_tls.ts).
  const listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr> = state.tls
    ? await NodeSocketListener.listen({ hostname: addr.hostname, port: addr.port })
    : Deno.listen({ hostname: addr.hostname, port: addr.port });
  if (!ctx.tls && !isLoopback(listener.addr.hostname)) {
    ctx.log.warn(
      "postgres listener has no TLS: hoop tokens and passwords cross the network in clear",
      {
        addr: formatHostPort(listener.addr),
        hint: "start the gateway with --tls-cert and --tls-key",
      },
    );
  }
  const loop = acceptLoop(listener, (conn) => serveClient(state, conn), {
    onAcceptError: (err) => ctx.log.warn("postgres listener accept failed", { err }),
    onError: (err) => ctx.log.debug("postgres client failed", { err }),
  });
  return {
    addr: { hostname: listener.addr.hostname, port: listener.addr.port },
    close: () => loop.close(),
  };
}

/** SQLSTATEs of the refusals, as PostgreSQL itself uses them. */
const SQLSTATE = {
  invalidPassword: "28P01",
  invalidAuthorization: "28000",
  unknownDatabase: "3D000",
  cannotConnect: "08006",
  protocolViolation: "08P01",
} as const;

/** True for an address only this host can reach. */
function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^(::ffff:)?127\./.test(hostname);
}

async function fatal(
  conn: Deno.Conn,
  code: string,
  message: string,
  hint?: string,
): Promise<void> {
  try {
    await writeAll(conn, encodeErrorResponse("FATAL", code, message, hint));
  } catch {
    // Client gone.
  }
  closeQuietly(conn);
}

async function serveClient(state: ListenerState, accepted: Deno.TcpConn): Promise<void> {
  const ctx = state.ctx;
  // Replaced by the TLS conn once the client upgrades; what the client hears goes there.
  let conn: Deno.Conn = accepted;
  const timer = setTimeout(() => {
    closeQuietly(conn);
    closeQuietly(accepted);
  }, STARTUP_TIMEOUT_MS);
  let params: Record<string, string>;
  let user: User;
  try {
    const first = await negotiateListenerStartup(accepted, state.tls);
    if (!first) return closeQuietly(accepted);
    conn = first.conn;
    if (first.packet.kind === "cancel") {
      clearTimeout(timer);
      return await routeCancel(state, conn, first.packet);
    }
    params = first.packet.params;
    const email = (params.user ?? "").toLowerCase();
    const database = params.database || email;
    if (!email) {
      return await fatal(conn, SQLSTATE.invalidAuthorization, "no user name: use your hoop email");
    }
    if (state.tls && !first.secure && !ctx.insecure) {
      // Asked before the password, so that the client never sends it in clear.
      return await fatal(
        conn,
        SQLSTATE.invalidAuthorization,
        `Cannot log in to "${database}" over plain TCP: this listener has TLS and refuses passwords in clear`,
        "connect with sslmode=require (or start the gateway with --postgres-listen-insecure)",
      );
    }
    // AuthenticationCleartextPassword: the password is a hoop token or the account password.
    await writeAll(conn, encodeAuthentication(AUTH_CLEARTEXT_PASSWORD));
    const reader = new MessageReader(conn, { maxBodyBytes: MAX_PASSWORD_BYTES });
    const msg = await reader.next();
    if (!msg || msg.type !== "p") {
      return await fatal(conn, SQLSTATE.protocolViolation, "expected a password message");
    }
    if (reader.takeBuffered().length) {
      return await fatal(conn, SQLSTATE.protocolViolation, "unexpected data after the password");
    }
    const password = new TextDecoder().decode(msg.body).replace(/\0$/, "");
    const peer = (conn.remoteAddr as Deno.NetAddr).hostname;
    const found = await ctx.throttle.guard(
      email,
      peer,
      () => authenticate(ctx.store, email, password),
    );
    if (!found) {
      ctx.log.info("postgres listener login refused", { user: email });
      return await fatal(
        conn,
        SQLSTATE.invalidPassword,
        `password authentication failed for user "${email}"`,
      );
    }
    user = found.user;
    const connection = await ctx.store.getConnectionByName(database);
    if (!connection || !canUse(user, connection)) {
      // Same answer for unknown and forbidden: a user learns nothing about connections they cannot use.
      return await fatal(
        conn,
        SQLSTATE.unknownDatabase,
        `connection "${database}" does not exist or you may not use it`,
      );
    }
    if (connection.type !== "postgres") {
      return await fatal(
        conn,
        SQLSTATE.unknownDatabase,
        `connection "${database}" is of type ${connection.type}, not postgres`,
      );
    }
    const agent = await ctx.store.getAgentById(connection.agentId);
    if (!agent || !ctx.presence.get(agent.id)) {
      return await fatal(
        conn,
        SQLSTATE.cannotConnect,
        `connection "${database}": agent "${agent?.name ?? "?"}" is offline`,
      );
    }
    const forwarded: Record<string, string> = { user: email, database };
    for (const k of FORWARDED_PARAMS) if (params[k] !== undefined) forwarded[k] = params[k];
    clearTimeout(timer);
    const client = conn;
    let key: BackendKey | undefined;
    await ctx.broker.open({
      user,
      token: found.token,
      connection,
      agent,
      verb: "connect",
      local: {
        conn: client,
        prelude: encodeStartup(forwarded),
        refuse: (message) =>
          writeAll(client, encodeErrorResponse("FATAL", SQLSTATE.cannotConnect, message)),
        greet: (agentConn) =>
          relayBackendHello(agentConn, client, (backend) => {
            if (key) state.keys.forget(key);
            key = state.keys.issue({ user, connection, agent, backend });
            return key;
          }),
        ended: () => {
          if (key) state.keys.forget(key);
        },
      },
    });
  } catch (err) {
    clearTimeout(timer);
    if (err instanceof HoopError) {
      ctx.log.debug("postgres client refused", { err });
      return await fatal(conn, SQLSTATE.cannotConnect, err.message);
    }
    throw err;
  }
}

/**
 * Forward a client's `CancelRequest` to the backend of the session its key
 * names, as a short session of its own through the same agent whose prelude
 * is the real key. A guessed, stale or unroutable key is answered as
 * PostgreSQL answers every cancel: the connection closes, nothing said.
 */
async function routeCancel(state: ListenerState, conn: Deno.Conn, key: BackendKey): Promise<void> {
  const target = state.keys.find(key);
  if (!target) {
    state.ctx.log.debug("postgres cancel request with an unknown key dropped", {});
    return closeQuietly(conn);
  }
  try {
    await state.ctx.broker.open({
      user: target.user,
      connection: target.connection,
      agent: target.agent,
      verb: "connect",
      local: {
        conn,
        prelude: encodeCancel(target.backend.pid, target.backend.secret),
        refuse: () => Promise.resolve(),
      },
    });
  } catch (err) {
    state.ctx.log.info("postgres cancel request not forwarded", {
      user: target.user.email,
      conn: target.connection.name,
      err,
    });
    closeQuietly(conn);
  }
}

async function authenticate(
  store: Store,
  email: string,
  password: string,
): Promise<{ user: User; token?: Token } | undefined> {
  if (password.startsWith("xtok-")) {
    try {
      const { user, token } = await authenticateToken(store, password);
      return user.email === email ? { user, token } : undefined;
    } catch (err) {
      if (err instanceof HoopError && err.code === "unauthenticated") return undefined;
      throw err;
    }
  }
  const user = await authenticatePassword(store, email, password);
  return user && { user };
}

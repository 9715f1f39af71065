/**
 * The agent: keeps one control stream to the gateway (proto/hoop.proto),
 * reconnecting forever with jittered exponential backoff, and serves every
 * SESSION_OPEN on its own data connection. It stops for good only when its
 * key is revoked or unknown, or when asked to.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { isIP } from "node:net";
import { hostname } from "node:os";
import type { Dsn } from "../proto/dsn.ts";
import {
  AGENT_KEY_METADATA,
  AGENT_NAME_METADATA,
  type AgentControlCall,
  CHANNEL_OPTIONS,
  GatewayClient,
} from "../proto/grpc_service.ts";
import { grpcTarget } from "../proto/dsn.ts";
import { helloPacket } from "../proto/hello.ts";
import { log as rootLog, type Logger } from "../proto/log.ts";
import {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_MS,
  makePacket,
  type Packet,
  PacketType,
  payloadJson,
  PROTOCOL_VERSION,
  specString,
} from "../proto/packet.ts";
import { VERSION } from "../proto/version.ts";
import type { DataTarget } from "./data_dial.ts";
import { WarmPool } from "../proto/warm_pool.ts";
import { serveSession, type SessionRequest } from "./session_handlers.ts";

/** First reconnect delay; doubles up to {@linkcode BACKOFF_MAX_MS}. */
export const BACKOFF_INITIAL_MS = 1_000;
/** Longest reconnect delay. */
export const BACKOFF_MAX_MS = 15_000;
/** A stream up this long resets the backoff. */
export const BACKOFF_RESET_AFTER_MS = 60_000;
/**
 * Sessions an agent sets up at once (from SESSION_OPEN until its data
 * connection is up, which covers the dial to the resource). Past it, a new
 * session is failed at once with a message; the ones in flight go on.
 */
export const MAX_SESSION_SETUPS = 512;

/** A TLS failure that trusting the right CA would fix. */
const TLS_TRUST_ERROR = /certificate|issuer|self[- ]signed|UnknownIssuer/i;
const TLS_TRUST_HINT =
  "set HOOP_TLSCA to the gateway's CA certificate (a file path or base64://PEM)";

/** What a TLS client meets at a port that does not speak TLS. */
const NOT_TLS_ERROR = /wrong version number|InvalidContentType|corrupt message|packet length/i;
/** How long the grpc:// diagnosis waits for a TLS handshake with the gateway. */
const TLS_PROBE_TIMEOUT_MS = 2_000;

/**
 * Name a TLS mismatch between HOOP_KEY and the gateway: a grpcs:// key at a
 * plain port fails with a TLS record error; a grpc:// key at a TLS port only
 * sees the connection closed, so one TLS handshake asks the port what it is.
 */
async function tlsMismatch(
  dsn: Dsn,
  message: string,
): Promise<{ state: string; hint: string } | undefined> {
  const at = `${grpcTarget(dsn)}`;
  if (dsn.tls) {
    if (!NOT_TLS_ERROR.test(message)) return undefined;
    return {
      state: `HOOP_KEY says ${dsn.scheme}:// but the gateway at ${at} does not speak TLS`,
      hint: "use grpc:// in HOOP_KEY, or start the gateway with --tls-cert and --tls-key",
    };
  }
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH/.test(message)) return undefined;
  if (!await speaksTls(dsn.host, dsn.port)) return undefined;
  return {
    state: `HOOP_KEY says ${dsn.scheme}:// but the gateway at ${at} serves TLS`,
    hint: "use grpcs:// in HOOP_KEY (set HOOP_TLSCA when a private CA signed the certificate)",
  };
}

/** True when `host:port` answers a TLS handshake (a certificate it sent counts, trusted or not). */
async function speaksTls(host: string, port: number): Promise<boolean> {
  let conn: Deno.TlsConn | undefined;
  const timer = setTimeout(() => conn?.close(), TLS_PROBE_TIMEOUT_MS);
  try {
    conn = await Deno.connectTls({ hostname: host, port });
    await conn.handshake();
    return true;
  } catch (err) {
    return TLS_TRUST_ERROR.test(String(err)) && !NOT_TLS_ERROR.test(String(err));
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // Closed by the timer.
    }
  }
}

/** The one connection an embedded agent (`hoop run`) serves. */
export interface EmbeddedConnection {
  name: string;
  type: "postgres" | "mysql" | "tcp" | "command";
  /** Full config, kept on the agent. */
  config: Record<string, string>;
  /** Redacted config published to the gateway. */
  publicConfig: Record<string, string>;
}

/** Options of {@linkcode runAgent}. */
export interface AgentOptions {
  /** The parsed HOOP_KEY. */
  dsn: Dsn;
  /** PEM of the CA that signed the gateway's certificate (`HOOP_TLSCA`). */
  tlsCa?: string;
  /** For embedded mode: the connection to publish and serve. */
  embedded?: EmbeddedConnection;
  log?: Logger;
  /** Aborting stops the agent cleanly. */
  signal?: AbortSignal;
  /** Called on every change of the control stream's state. */
  onState?(state: "online" | "offline"): void;
}

/** Why {@linkcode runAgent} returned. */
export type AgentExit =
  | { reason: "stopped" }
  | { reason: "unauthorized"; message: string }
  /** The gateway refused what the agent publishes (a taken name, a standard key for hoop run). */
  | { reason: "refused"; message: string };

type AttemptResult =
  | { kind: "stopped" }
  | { kind: "unauthorized"; message: string }
  | { kind: "refused"; message: string }
  | { kind: "retry"; message: string; onlineMs: number; wasOnline?: boolean };

/** `linux/amd64` style platform string, as Go's GOOS/GOARCH read. */
export function platformString(): string {
  const arch = Deno.build.arch === "x86_64"
    ? "amd64"
    : Deno.build.arch === "aarch64"
    ? "arm64"
    : Deno.build.arch;
  return `${Deno.build.os}/${arch}`;
}

/** Run the agent until it is stopped or its key is refused. */
export async function runAgent(opts: AgentOptions): Promise<AgentExit> {
  // Org-key DSNs all carry the name "org": name an embedded agent after its connection.
  const log = opts.log ??
    rootLog.with({ component: "agent", agent: opts.embedded?.name ?? opts.dsn.name });
  let backoff = BACKOFF_INITIAL_MS;
  let lastMessage = "";
  for (;;) {
    if (opts.signal?.aborted) return { reason: "stopped" };
    const result = await attempt(opts, log);
    opts.onState?.("offline");
    if (result.kind === "stopped") return { reason: "stopped" };
    if (result.kind === "unauthorized") {
      log.error("key revoked or unknown: the agent stops", { detail: result.message });
      return { reason: "unauthorized", message: result.message };
    }
    if (result.kind === "refused") {
      log.error("the gateway refused this agent: it stops", { detail: result.message });
      return { reason: "refused", message: result.message };
    }
    if (result.onlineMs >= BACKOFF_RESET_AFTER_MS) backoff = BACKOFF_INITIAL_MS;
    // Jitter in [0.5, 1.0] x backoff so a fleet does not reconnect in lockstep.
    const delay = Math.round(backoff * (0.5 + Math.random() / 2));
    if (result.wasOnline) {
      // "disconnected from the gateway" said why; the next failure opens a new outage.
      lastMessage = "";
      log.debug("reconnecting", { delay_ms: delay });
    } else if (result.message !== lastMessage) {
      const mismatch = await tlsMismatch(opts.dsn, result.message);
      log.warn(
        mismatch
          ? `gateway unreachable: ${mismatch.state}, retrying with backoff`
          : "gateway unreachable, retrying with backoff",
        {
          target: grpcTarget(opts.dsn),
          err: result.message,
          hint: mismatch?.hint ??
            (TLS_TRUST_ERROR.test(result.message) ? TLS_TRUST_HINT : undefined),
        },
      );
      lastMessage = result.message;
    } else {
      log.debug("reconnecting", { delay_ms: delay });
    }
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    if (!await sleep(delay, opts.signal)) return { reason: "stopped" };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function credentials(opts: AgentOptions): grpc.ChannelCredentials {
  if (!opts.dsn.tls) return grpc.credentials.createInsecure();
  return withoutIpServerName(
    grpc.credentials.createSsl(opts.tlsCa ? Buffer.from(opts.tlsCa) : null),
  );
}

/** The part of grpc-js's (internal) secure credentials this module adjusts. */
interface SecureConnectorFactory {
  _createSecureConnector(...args: unknown[]): { connectionOptions?: { servername?: string } };
}

/**
 * grpc-js always sets the TLS `servername` to the target host, and Deno's
 * node:tls throws on an IP address there (Node only warns), so a
 * `grpcs://127.0.0.1:PORT` DSN could never connect. Drop the SNI name for IP
 * targets: node:tls still checks the certificate against the IP via `host`.
 */
function withoutIpServerName(creds: grpc.ChannelCredentials): grpc.ChannelCredentials {
  const factory = creds as unknown as SecureConnectorFactory;
  const original = factory._createSecureConnector?.bind(factory);
  if (!original) return creds;
  factory._createSecureConnector = (...args: unknown[]) => {
    const connector = original(...args);
    const options = connector.connectionOptions;
    if (options?.servername && isIP(options.servername)) delete options.servername;
    return connector;
  };
  return creds;
}

/** One control stream, from dial to end. */
function attempt(opts: AgentOptions, log: Logger): Promise<AttemptResult> {
  return new Promise((resolve) => {
    const client = new GatewayClient(grpcTarget(opts.dsn), credentials(opts), CHANNEL_OPTIONS);
    const md = new grpc.Metadata();
    md.set(AGENT_NAME_METADATA, opts.dsn.name);
    md.set(AGENT_KEY_METADATA, opts.dsn.key);
    const call = (client as unknown as { connect(md: grpc.Metadata): AgentControlCall }).connect(
      md,
    );
    let onlineAt = 0;
    let lastHeard = Date.now();
    let done = false;
    let data: DataTarget | undefined;
    let warm: WarmPool | undefined;
    const sessions = new Map<string, () => void>();

    const finish = (result: AttemptResult) => {
      if (done) return;
      done = true;
      clearInterval(heartbeat);
      warm?.close();
      opts.signal?.removeEventListener("abort", onAbort);
      for (const close of sessions.values()) close();
      sessions.clear();
      try {
        call.cancel();
      } catch {
        // Already over.
      }
      client.close();
      if (onlineAt) {
        log.info("disconnected from the gateway", {
          reason: "message" in result ? result.message : result.kind,
        });
      }
      resolve(
        result.kind === "retry"
          ? { ...result, onlineMs: onlineAt ? Date.now() - onlineAt : 0, wasOnline: onlineAt > 0 }
          : result,
      );
    };
    const onAbort = () => finish({ kind: "stopped" });
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    const heartbeat = setInterval(() => {
      if (Date.now() - lastHeard > HEARTBEAT_TIMEOUT_MS) {
        finish({ kind: "retry", message: "no heartbeat from the gateway", onlineMs: 0 });
        return;
      }
      call.write(makePacket(PacketType.HEARTBEAT));
    }, HEARTBEAT_INTERVAL_MS);

    /** Sessions between SESSION_OPEN and their data connection (resource dials in flight). */
    const settingUp = new Set<string>();
    const sessionCtx = () => ({
      data: data!,
      warm,
      log,
      fail(sid: string, message: string) {
        if (!done) call.write(makePacket(PacketType.SESSION_FAILED, { sid, message }));
      },
      track(sid: string, close: () => void) {
        settingUp.delete(sid);
        sessions.set(sid, close);
        return () => sessions.delete(sid);
      },
    });

    call.on("data", (p: Packet) => {
      lastHeard = Date.now();
      switch (p.type) {
        case PacketType.WELCOME:
          data = {
            addr: specString(p, "data_addr") ?? "",
            tls: specString(p, "data_tls") === "1",
            caCert: opts.tlsCa,
          };
          {
            const warmKey = specString(p, "warm_key");
            warm?.close();
            warm = warmKey ? new WarmPool(data, warmKey, log) : undefined;
          }
          onlineAt = Date.now();
          log.info("connected to the gateway", {
            target: grpcTarget(opts.dsn),
            conn: opts.embedded?.name,
          });
          opts.onState?.("online");
          break;
        case PacketType.HEARTBEAT:
          break;
        case PacketType.SESSION_OPEN: {
          if (!data) break;
          const req = sessionRequest(p, opts.embedded);
          if (!req) break;
          if (settingUp.size >= MAX_SESSION_SETUPS) {
            // A flood of sessions nobody attaches to must not make this agent
            // hold hundreds of connections to its resources.
            sessionCtx().fail(
              req.sid,
              `the agent is already opening ${MAX_SESSION_SETUPS} sessions: try again shortly`,
            );
            break;
          }
          settingUp.add(req.sid);
          void serveSession(sessionCtx(), req).finally(() => settingUp.delete(req.sid));
          break;
        }
        case PacketType.REVOKED:
          finish({ kind: "unauthorized", message: "key revoked or unknown" });
          break;
        case PacketType.SHUTDOWN:
          if (specString(p, "reason") === "replaced") {
            // Another live process connected with the same identity. Retrying would
            // knock it off in turn, forever: this one yields and says why.
            finish({
              kind: "refused",
              message: `another agent connected as "${
                opts.embedded?.name ?? opts.dsn.name
              }" and replaced this one`,
            });
          } else {
            finish({ kind: "retry", message: "the gateway is shutting down", onlineMs: 0 });
          }
          break;
        default:
          log.debug("ignored packet", { type: p.type });
      }
    });
    call.on("error", (err: grpc.ServiceError) => {
      if (err.code === grpc.status.UNAUTHENTICATED) {
        finish({ kind: "unauthorized", message: err.details || "key revoked or unknown" });
      } else if (
        err.code === grpc.status.INVALID_ARGUMENT || err.code === grpc.status.ALREADY_EXISTS ||
        err.code === grpc.status.FAILED_PRECONDITION
      ) {
        // The gateway refused what we publish; retrying will not change it.
        finish({ kind: "refused", message: err.details });
      } else {
        finish({ kind: "retry", message: err.details || err.message, onlineMs: 0 });
      }
    });
    call.on(
      "end",
      () => finish({ kind: "retry", message: "the gateway closed the stream", onlineMs: 0 }),
    );

    const hello = helloPacket({
      version: VERSION,
      hostname: safeHostname(),
      platform: platformString(),
      protocol: PROTOCOL_VERSION,
      connection: opts.embedded && {
        name: opts.embedded.name,
        type: opts.embedded.type,
        config: opts.embedded.publicConfig,
      },
    });
    call.write(hello);
  });
}

function safeHostname(): string {
  try {
    return hostname();
  } catch {
    return "unknown";
  }
}

function sessionRequest(p: Packet, embedded?: EmbeddedConnection): SessionRequest | undefined {
  const sid = specString(p, "sid");
  const ticket = specString(p, "ticket");
  if (!sid || !ticket) return undefined;
  const type = (specString(p, "type") ?? "tcp") as SessionRequest["type"];
  const config = embedded?.config ?? payloadJson<Record<string, string>>(p) ?? {};
  return {
    sid,
    ticket,
    connection: specString(p, "connection") ?? "",
    type: embedded?.type ?? type,
    verb: (specString(p, "verb") ?? "connect") as SessionRequest["verb"],
    cols: Number(specString(p, "cols") ?? 80) || 80,
    rows: Number(specString(p, "rows") ?? 24) || 24,
    config,
  };
}

/**
 * `startGateway`: the store, the gRPC control plane, the HTTP API and the data
 * port, wired together, with a clean shutdown.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { invalidArgument, unavailable } from "../proto/errors.ts";
import {
  CHANNEL_OPTIONS,
  GATEWAY_SERVICE,
  type GatewayControlCall,
} from "../proto/grpc_service.ts";
import { dialableAddr, formatHostPort, type HostPort, parseHostPort } from "../proto/host_port.ts";
import { describeNetError } from "../proto/net_error.ts";
import { log as rootLog, type Logger, redact } from "../proto/log.ts";
import { apiHandler } from "./api/mod.ts";
import { AuditSpool, AuditWriter, DEFAULT_AUDIT_MAX_BYTES } from "./audit/mod.ts";
import { startHttpFront } from "./http_front.ts";
import { LoginThrottle } from "./login_throttle.ts";
import { handleControlStream } from "./control_stream.ts";
import { startDataServer } from "./data_server.ts";
import { WarmParking } from "./warm_parking.ts";
import { Handoffs } from "./oidc/handoffs.ts";
import { PendingLogins } from "./oidc/pending_logins.ts";
import { OidcProvider } from "./oidc/provider.ts";
import { startRecheck } from "./oidc/recheck.ts";
import type { AuthMethod, OidcSettings } from "./oidc/settings.ts";
import { startPostgresListener } from "./postgres/mod.ts";
import { MemoryPresence } from "./presence.ts";
import { loadSecretBox } from "./secret_box.ts";
import { SessionBroker } from "./broker/mod.ts";
import { openStore } from "./store/open_store.ts";
import type { Store } from "./store/store.ts";

/** Default token lifetime (`HOOP_TOKEN_TTL`). */
export const DEFAULT_TOKEN_TTL_MS = 12 * 60 * 60 * 1000;

/** Options of {@linkcode startGateway}; every one has a default. */
export interface GatewayOptions {
  /** gRPC listen address, default `0.0.0.0:8010`. */
  grpcListen?: string;
  /** HTTP API listen address, default `0.0.0.0:8009`. */
  apiListen?: string;
  /** Data port listen address, default `0.0.0.0:8011`. */
  dataListen?: string;
  /** PostgreSQL listener address (off unless given), e.g. `0.0.0.0:15432`. */
  postgresListen?: string;
  /**
   * Let the PostgreSQL listener take passwords over plain TCP although it has
   * TLS (`--postgres-listen-insecure`); refused by default.
   */
  postgresListenInsecure?: boolean;
  /** Data directory (SQLite file, secret key), default `~/.hoop/gateway`. */
  dataDir?: string;
  /** Store URL; empty means embedded SQLite in `dataDir`. */
  databaseUrl?: string;
  /** Public gRPC URL used in DSNs, default `grpc://127.0.0.1:<grpc port>`. */
  grpcUrl?: string;
  /** Public `host:port` of the data port, default the listen address. */
  dataUrl?: string;
  /** PEM certificate and key: TLS on gRPC, the API, the data port and the PostgreSQL listener. */
  tlsCert?: string;
  tlsKey?: string;
  /** Base64 32-byte key sealing secrets at rest (`HOOP_SECRET_KEY`). */
  secretKey?: string;
  tokenTtlMs?: number;
  auditMaxBytes?: number;
  /** Bound of the local audit spool (`HOOP_AUDIT_SPOOL_MAX_BYTES`). */
  auditSpoolMaxBytes?: number;
  /** Single sign-on; `publicUrl` defaults to the API's own URL. */
  oidc?: Omit<OidcSettings, "publicUrl"> & { publicUrl?: string };
  /** Logins offered; password only by default. */
  authMethods?: AuthMethod[];
  /** The local account that keeps its password when passwords are off. */
  breakGlassAdmin?: string;
  log?: Logger;
}

/** A running gateway. */
export interface Gateway extends AsyncDisposable {
  /** Bound addresses (port 0 resolved). */
  readonly grpcAddr: HostPort;
  readonly apiAddr: HostPort;
  readonly dataAddr: HostPort;
  /** Bound PostgreSQL listener, when enabled. */
  readonly postgresAddr?: HostPort;
  /** Public URLs as clients and agents use them. */
  readonly grpcUrl: string;
  readonly apiUrl: string;
  readonly store: Store;
  /** Stop accepting, tell agents, end sessions, close the store. */
  close(): Promise<void>;
}

/** Start a gateway. */
export async function startGateway(opts: GatewayOptions = {}): Promise<Gateway> {
  const log = opts.log ?? rootLog.with({ component: "gateway" });
  const grpcListen = parseHostPort(opts.grpcListen ?? "0.0.0.0:8010", {
    what: "gRPC listen address",
    allowZero: true,
  });
  const apiListen = parseHostPort(opts.apiListen ?? "0.0.0.0:8009", {
    what: "API listen address",
    allowZero: true,
  });
  const dataListen = parseHostPort(opts.dataListen ?? "0.0.0.0:8011", {
    what: "data listen address",
    allowZero: true,
  });
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
    throw invalidArgument("TLS needs both --tls-cert and --tls-key");
  }
  const tls = opts.tlsCert && opts.tlsKey ? { cert: opts.tlsCert, key: opts.tlsKey } : undefined;
  const dataDir = opts.dataDir ?? defaultDataDir();

  const secretBox = await loadSecretBox({ dataDir, envKey: opts.secretKey });
  const store = await openStore(opts.databaseUrl, { dataDir, secretBox });
  const cleanups: (() => unknown)[] = [() => store.close()];
  try {
    // Records an earlier run could not write go in first, then its sessions are closed.
    const spool = await AuditSpool.open(dataDir, opts.auditSpoolMaxBytes);
    let onAuditFull = (_reason: string) => {};
    const audit = new AuditWriter(store, spool, {
      log,
      onFull: (reason) => onAuditFull(reason),
    });
    cleanups.unshift(() => audit.close());
    await audit.replayNow();
    const now = new Date().toISOString();
    await store.markAllAgentsOffline();
    const dangling = await store.closeDanglingSessions(
      now,
      "the gateway stopped during the session",
    );
    if (dangling) log.warn("closed sessions left open by a previous run", { count: dangling });

    const presence = new MemoryPresence();
    const broker = new SessionBroker({
      store,
      presence,
      log,
      auditMaxBytes: opts.auditMaxBytes ?? DEFAULT_AUDIT_MAX_BYTES,
      audit,
    });
    onAuditFull = (reason) => broker.endAllSessions(`the session cannot be recorded: ${reason}`);
    const throttle = new LoginThrottle();
    cleanups.unshift(() => broker.close("the gateway is shutting down"));

    const parking = new WarmParking();
    const data = await listenOrExplain(
      () => startDataServer(dataListen, { broker, log, tls, parking }),
      "data",
      dataListen,
    );
    cleanups.unshift(() => data.close());
    const pgListen = opts.postgresListen
      ? parseHostPort(opts.postgresListen, { what: "PostgreSQL listen address", allowZero: true })
      : undefined;
    const pg = pgListen
      ? await listenOrExplain(
        () =>
          startPostgresListener(pgListen, {
            store,
            presence,
            broker,
            log,
            throttle,
            tls,
            insecure: opts.postgresListenInsecure,
          }),
        "PostgreSQL clients",
        pgListen,
      )
      : undefined;
    if (pg) cleanups.unshift(() => pg.close());
    const publicData = opts.dataUrl
      ? parseHostPort(opts.dataUrl, { what: "HOOP_DATA_URL" })
      : dialableAddr(data.addr);
    const dataAddr = formatHostPort(publicData);

    // gRPC control plane.
    const server = new grpc.Server(CHANNEL_OPTIONS);
    const controlCtx = { store, presence, broker, log, dataAddr, dataTls: !!tls, parking };
    server.addService(GATEWAY_SERVICE, {
      connect: (call: GatewayControlCall) => {
        handleControlStream(controlCtx, call).catch((err) => {
          log.error("control stream failed", { err });
        });
      },
    });
    const creds = tls
      // Explicit roots: grpc-js would otherwise load GRPC_DEFAULT_SSL_ROOTS_FILE_PATH
      // and fail handshakes under Deno (ENVIRONMENT.md).
      ? grpc.ServerCredentials.createSsl(Buffer.from(tls.cert), [{
        cert_chain: Buffer.from(tls.cert),
        private_key: Buffer.from(tls.key),
      }], false)
      : grpc.ServerCredentials.createInsecure();
    const grpcPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(formatHostPort(grpcListen), creds, (err, port) => {
        if (err) {
          reject(
            unavailable(`Cannot listen for gRPC on ${formatHostPort(grpcListen)}: ${err.message}`),
          );
        } else resolve(port);
      });
    });
    cleanups.unshift(() => server.forceShutdown());
    const grpcAddr = { hostname: grpcListen.hostname, port: grpcPort };
    const grpcUrl = opts.grpcUrl ??
      `${tls ? "grpcs" : "grpc"}://${formatHostPort(dialableAddr(grpcAddr))}`;
    let grpcUrlParsed: URL;
    try {
      grpcUrlParsed = new URL(grpcUrl);
    } catch {
      throw invalidArgument(
        `Invalid HOOP_GRPC_URL "${grpcUrl}": use grpc://HOST:PORT or grpcs://HOST:PORT`,
      );
    }

    // HTTP API. The single sign-on callback's base is known once the API listens.
    const oidcSettings: OidcSettings | undefined = opts.oidc &&
      { ...opts.oidc, publicUrl: opts.oidc.publicUrl ?? "" };
    const ssoProvider = oidcSettings && new OidcProvider(oidcSettings);
    // Aborted first thing at shutdown: long-lived answers (event streams) end on it.
    const stopping = new AbortController();
    const handler = apiHandler({
      stopping: stopping.signal,
      store,
      presence,
      broker,
      log,
      grpcUrl: grpcUrlParsed,
      dataAddr,
      dataTls: !!tls,
      dataCaCert: tls?.cert,
      tokenTtlMs: opts.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS,
      throttle,
      audit,
      parking,
      sso: ssoProvider && {
        provider: ssoProvider,
        pending: new PendingLogins(),
        handoffs: new Handoffs(),
      },
      authMethods: opts.authMethods,
      breakGlassAdmin: opts.breakGlassAdmin,
      onRevokeAgents(ids) {
        for (const id of ids) {
          presence.get(id)?.close("revoked");
          broker.endAgentSessions(id, "the agent's key was revoked");
        }
      },
    });
    // Through the front door: header deadlines and per-address caps (http_front.ts).
    const http = await listenOrExplain(
      () => startHttpFront(apiListen, { log, tls, handler }),
      "the API",
      apiListen,
    );
    cleanups.unshift(() => http.close());
    const apiAddr = http.addr;
    const apiUrl = `${tls ? "https" : "http"}://${formatHostPort(dialableAddr(apiAddr))}`;
    if (oidcSettings && !oidcSettings.publicUrl) oidcSettings.publicUrl = apiUrl;
    if (oidcSettings && ssoProvider) {
      log.info("single sign-on on", {
        issuer: oidcSettings.issuer.href,
        redirect_uri: `${oidcSettings.publicUrl}/api/oidc/callback`,
      });
      const recheck = startRecheck(
        store,
        ssoProvider,
        log,
        broker,
        oidcSettings.recheckIntervalMs,
      );
      cleanups.unshift(() => recheck.close());
    }

    log.info("gateway store ready", {
      store: store.kind,
      url: redact(opts.databaseUrl ?? dataDir),
    });
    log.info(`listening for gRPC on ${formatHostPort(grpcAddr)}`, { public: grpcUrl });
    log.info(`listening for the API on ${formatHostPort(apiAddr)}`);
    log.info(`listening for data on ${formatHostPort(data.addr)}`, { public: dataAddr });
    if (pg) log.info(`listening for PostgreSQL clients on ${formatHostPort(pg.addr)}`);

    let closing: Promise<void> | undefined;
    const close = () =>
      closing ??= (async () => {
        stopping.abort();
        for (const link of presence.all()) link.close("shutdown");
        await broker.close("the gateway is shutting down");
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 1000);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        data.close();
        pg?.close();
        await http.close();
        // Whatever is still spooled stays on disk and is replayed at the next start.
        await audit.close();
        await store.close();
        log.info("gateway stopped");
      })();

    return {
      grpcAddr,
      apiAddr,
      dataAddr: data.addr,
      postgresAddr: pg?.addr,
      grpcUrl,
      apiUrl,
      store,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (err) {
    for (const c of cleanups) {
      try {
        await c();
      } catch {
        // Best effort while failing.
      }
    }
    throw err;
  }
}

function defaultDataDir(): string {
  const home = Deno.env.get("HOME") ?? ".";
  return `${home}/.hoop/gateway`;
}

/** Run a listener start, turning "address in use" and friends into a clear error. */
async function listenOrExplain<T>(
  start: () => T | Promise<T>,
  what: string,
  addr: HostPort,
): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (
      err instanceof Deno.errors.AddrInUse || err instanceof Deno.errors.PermissionDenied ||
      err instanceof Deno.errors.AddrNotAvailable
    ) {
      throw unavailable(
        `Cannot listen for ${what} on ${formatHostPort(addr)}: ${describeNetError(err)}`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
}

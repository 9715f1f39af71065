/**
 * What the API's handlers share: the gateway pieces they call
 * ({@linkcode ApiContext}) and the values middleware puts on each request's
 * Hono context ({@linkcode ApiEnv}).
 *
 * @module
 */
import type { Logger } from "../../proto/log.ts";
import type { AuditWriter } from "../audit/mod.ts";
import type { LoginThrottle } from "../login_throttle.ts";
import type { PresenceRegistry } from "../presence.ts";
import type { SessionBroker } from "../broker/mod.ts";
import type { Store, Token, User } from "../store/store.ts";
import type { WarmParking } from "../warm_parking.ts";
import type { AuthMethod } from "../oidc/settings.ts";
import type { SsoContext } from "./oidc.ts";

/** What the API needs from the gateway. */
export interface ApiContext {
  store: Store;
  presence: PresenceRegistry;
  broker: SessionBroker;
  log: Logger;
  /** Public gRPC URL used to build DSNs (`HOOP_GRPC_URL`). */
  grpcUrl: URL;
  /** Public `host:port` of the data port. */
  dataAddr: string;
  dataTls: boolean;
  /** PEM the gateway trusts when it dials its own data port (its certificate) for web runs. */
  dataCaCert?: string;
  tokenTtlMs: number;
  /** Called after an agent or the org key is revoked, to cut streams. */
  onRevokeAgents(agentIds: string[]): void;
  /** Slows password guessing; shared with the PostgreSQL listener. */
  throttle: LoginThrottle;
  /** The durable audit path, for `/api/healthz`; absent in tests that do not need it. */
  audit?: AuditWriter;
  /** Aborted when the gateway shuts down: event streams end on it (else the API server waits). */
  stopping?: AbortSignal;
  /** Where clients' warm data connections park; no `warm_key` is handed out without it. */
  parking?: WarmParking;
  /** Single sign-on, when the gateway was started with `--oidc-issuer`. */
  sso?: SsoContext;
  /** Logins offered (`--auth-methods`); password only when absent. */
  authMethods?: AuthMethod[];
  /** The one local account that may still use a password when passwords are off. */
  breakGlassAdmin?: string;
}

/** Hono's environment for the API: the caller, set by the `requireUser` middleware. */
export interface ApiEnv {
  Bindings: {
    /** The client's address as the API port's front door saw it. */
    peer?: Deno.NetAddr;
  };
  Variables: {
    /** The authenticated caller. */
    user: User;
    /** The token the caller presented (logout revokes it). */
    token: Token;
    /** How the token came: a bearer header, or the console's session cookie. */
    via: "bearer" | "cookie";
  };
}

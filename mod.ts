/**
 * hoop as a library: start a gateway, run an agent in-process, and read or
 * write the keys (DSNs) that connect them.
 *
 * @example Start a gateway on the embedded store and an agent beside it
 * ```ts
 * import { parseDsn, runAgent, startGateway } from "./mod.ts";
 *
 * await using gateway = await startGateway({
 *   grpcListen: "127.0.0.1:0",
 *   apiListen: "127.0.0.1:0",
 *   dataListen: "127.0.0.1:0",
 *   dataDir: await Deno.makeTempDir(),
 * });
 * const stop = new AbortController();
 * const agent = runAgent({ dsn: parseDsn(Deno.env.get("HOOP_KEY")!), signal: stop.signal });
 * // ... later
 * stop.abort();
 * await agent;
 * ```
 *
 * @module
 */

/** Start a gateway: store, gRPC control plane, HTTP API and data port. */
export { type Gateway, type GatewayOptions, startGateway } from "./gateway/mod.ts";
/** Run an agent until it is stopped or its key is refused. */
export {
  type AgentExit,
  type AgentOptions,
  type EmbeddedConnection,
  runAgent,
} from "./agent/mod.ts";
/** Parse, format and redact agent keys (DSNs). */
export { type Dsn, formatDsn, parseDsn, redactDsn } from "./proto/dsn.ts";
/** Generate keys and compare secrets. */
export { generateAgentKey, sha256Hex, timingSafeEqual } from "./proto/keys.ts";
/** The error family every hoop API throws. */
export { type ErrorCode, HoopError } from "./proto/errors.ts";
/** The version of this hoop. */
export { VERSION } from "./proto/version.ts";

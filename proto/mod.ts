/**
 * The wire contract of hoop, shared by the CLI, the gateway and the agent:
 * errors, logging, control-plane packets, the `HOOP_KEY` DSN, keys and
 * tickets, the data-plane header, exec/console frames, the splice relay and
 * the HTTP API's JSON shapes.
 *
 * `grpc_service.ts` is not re-exported: it pulls in grpc-js, which callers
 * that only parse a DSN or frames should not load.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./log.ts";
export * from "./packet.ts";
export * from "./dsn.ts";
export * from "./keys.ts";
export * from "./data_header.ts";
export * from "./frames.ts";
export * from "./splice.ts";
export type * from "./api_types.ts";

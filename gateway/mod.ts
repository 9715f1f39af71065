/**
 * The gateway: it authenticates agents on their gRPC control streams
 * (`control_stream.ts`), users on the HTTP API (`api/`) and the PostgreSQL
 * listener (`postgres/`), pairs data connections into audited sessions
 * (`broker/`), records every session durably (`audit/`: recorder, writer, spool) in
 * one store (`store/`), and shuts the door on what the network throws at it
 * (`http_front.ts`, `login_throttle.ts`). `startGateway` wires it all; this
 * module is what the rest of hoop may import from the gateway.
 *
 * @module
 */
export { type Gateway, type GatewayOptions, startGateway } from "./gateway.ts";

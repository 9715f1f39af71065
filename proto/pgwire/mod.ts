/**
 * PostgreSQL's frontend/backend protocol as hoop's roles share it: the
 * message codec (`codec.ts`), the buffered reader of typed messages
 * (`message_reader.ts`), the one startup negotiation every PostgreSQL front
 * end runs (`startup.ts`), and a minimal simple-query client
 * (`simple_query.ts`) for `hoop exec` and the tests. The server side lives in
 * `agent/postgres/`; the gateway's statement tap in `gateway/postgres/`.
 *
 * @module
 */
export * from "./codec.ts";
export * from "./message_reader.ts";
export * from "./startup.ts";
export * from "./simple_query.ts";

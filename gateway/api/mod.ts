/**
 * The gateway's HTTP JSON API (docs/API.md) on Hono: `apiHandler` builds the
 * request handler `Deno.serve` runs from the gateway pieces in an
 * `ApiContext`; `createApiApp` gives the Hono app itself, for tests and for
 * mounting more routes (the web console later). One resource per file
 * (`auth.ts`, `agents.ts`, `connections.ts`, `users.ts`, `sessions.ts`), one
 * error mapping (`errors.ts`), and request bodies read through a streaming
 * limit of `MAX_BODY_BYTES`. The JSON shapes are `proto/api_types.ts`.
 *
 * @module
 */
export { apiHandler, createApiApp } from "./app.ts";
export type { ApiContext, ApiEnv } from "./_context.ts";
export { MAX_BODY_BYTES } from "./_body.ts";

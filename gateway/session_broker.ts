/**
 * Moved to gateway/broker/ (kept while other modules switch their imports).
 *
 * @module
 */
export * from "./broker/mod.ts";

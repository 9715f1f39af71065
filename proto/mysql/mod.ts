/**
 * The MySQL / MariaDB client-server protocol as hoop speaks it: packet
 * framing (`packet.ts`), the connection phase (`handshake.ts`), generic
 * responses (`messages.ts`) and the commands the audit reads (`commands.ts`).
 *
 * @module
 */
export * from "./packet.ts";
export * from "./handshake.ts";
export * from "./messages.ts";
export * from "./commands.ts";
export * from "./text_query.ts";

/**
 * The web console's sessions, opened by the gateway itself: one-shot runs
 * (SQL or a command) and the bridge of a browser terminal to console frames.
 *
 * @module
 */
export * from "./own_session.ts";
export * from "./run_command.ts";
export * from "./run_sql.ts";
export * from "./terminal_bridge.ts";

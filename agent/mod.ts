/**
 * The agent: it dials out to the gateway's control stream (`agent.ts`), and
 * for each session the gateway asks for, reaches the resource, a TCP service,
 * a PostgreSQL server (`postgres/`: the real login stays here) or a command
 * in a pseudo-terminal (`pty.ts`, `command_runner.ts`), over its own data
 * connection (`session_handlers.ts`, `data_dial.ts`). This module is what
 * the rest of hoop may import from the agent.
 *
 * @module
 */
export {
  type AgentExit,
  type AgentOptions,
  type EmbeddedConnection,
  MAX_SESSION_SETUPS,
  runAgent,
} from "./agent.ts";

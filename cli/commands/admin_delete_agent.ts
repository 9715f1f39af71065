import type { Command } from "../command.ts";
import { API_URL_HELP, API_URL_OPTION, deleteNamed } from "./_api.ts";

/** `hoop admin delete agent NAME`: revoke an agent key. */
export const adminDeleteAgentCommand: Command = {
  path: ["admin", "delete", "agent"],
  summary: "Revoke an agent key; its streams and sessions end",
  usage: "hoop admin delete agent NAME [--api-url URL]",
  help: `The agent is disconnected within a second, every session through it ends, and the
key cannot connect again.

Flags:
${API_URL_HELP}

Examples:
  hoop admin delete agent dev`,
  options: { ...API_URL_OPTION },
  allowPositionals: 1,
  run: (ctx, args) =>
    deleteNamed(ctx, args, { label: "NAME", collection: "agents", noun: "agent" }),
};

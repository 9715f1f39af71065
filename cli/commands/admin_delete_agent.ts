import { type Command, requiredPositional } from "../command.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor, segment } from "./_api.ts";

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
  async run(ctx, args) {
    const name = requiredPositional(args, 0, "NAME");
    const api = await clientFor(ctx, args.values);
    try {
      await api.delete(`/api/agents/${segment(name)}`);
      await ctx.stderr.writeln(`Deleted agent "${name}"`);
      return 0;
    } finally {
      api.close();
    }
  },
};

import { type Command, requiredPositional } from "../command.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor, segment } from "./_api.ts";

/** `hoop admin delete connection NAME`. */
export const adminDeleteConnectionCommand: Command = {
  path: ["admin", "delete", "connection"],
  aliases: [["admin", "delete", "conn"]],
  summary: "Delete a connection",
  usage: "hoop admin delete connection NAME [--api-url URL]",
  help: `Flags:
${API_URL_HELP}

Examples:
  hoop admin delete connection pg`,
  options: { ...API_URL_OPTION },
  allowPositionals: 1,
  async run(ctx, args) {
    const name = requiredPositional(args, 0, "NAME");
    const api = await clientFor(ctx, args.values);
    try {
      await api.delete(`/api/connections/${segment(name)}`);
      await ctx.stderr.writeln(`Deleted connection "${name}"`);
      return 0;
    } finally {
      api.close();
    }
  },
};

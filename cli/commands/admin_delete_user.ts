import { type Command, requiredPositional } from "../command.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor, segment } from "./_api.ts";

/** `hoop admin delete user EMAIL`. */
export const adminDeleteUserCommand: Command = {
  path: ["admin", "delete", "user"],
  summary: "Delete a user; their tokens stop working and live sessions end",
  usage: "hoop admin delete user EMAIL [--api-url URL]",
  help: `Flags:
${API_URL_HELP}

Examples:
  hoop admin delete user alice@example.com`,
  options: { ...API_URL_OPTION },
  allowPositionals: 1,
  async run(ctx, args) {
    const email = requiredPositional(args, 0, "EMAIL");
    const api = await clientFor(ctx, args.values);
    try {
      await api.delete(`/api/users/${segment(email)}`);
      await ctx.stderr.writeln(`Deleted user "${email}"`);
      return 0;
    } finally {
      api.close();
    }
  },
};

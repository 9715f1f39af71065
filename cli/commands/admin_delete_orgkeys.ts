import type { Command } from "../command.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor } from "./_api.ts";

/** `hoop admin delete orgkeys`: revoke the organization key. */
export const adminDeleteOrgkeysCommand: Command = {
  path: ["admin", "delete", "orgkeys"],
  aliases: [["admin", "delete", "orgkey"]],
  summary: "Revoke the organization key; agents that used it are cut off",
  usage: "hoop admin delete orgkeys [--api-url URL]",
  help: `Every "hoop run" agent that connected with the organization key is disconnected.

Flags:
${API_URL_HELP}

Examples:
  hoop admin delete orgkeys`,
  options: { ...API_URL_OPTION },
  async run(ctx, { values }) {
    const api = await clientFor(ctx, values);
    try {
      await api.delete("/api/orgkeys");
      await ctx.stderr.writeln("Deleted the organization key");
      return 0;
    } finally {
      api.close();
    }
  },
};

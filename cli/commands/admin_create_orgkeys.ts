import type { OrgKey } from "../../proto/api_types.ts";
import type { Command } from "../command.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor } from "./_api.ts";

/** `hoop admin create orgkeys`: create the organization key and print its DSN. */
export const adminCreateOrgkeysCommand: Command = {
  path: ["admin", "create", "orgkeys"],
  aliases: [["admin", "create", "orgkey"]],
  summary: "Create the organization key (for hoop run) and print its DSN",
  usage: "hoop admin create orgkeys [--api-url URL]",
  help: `An organization has one key; it fails when one exists ("hoop admin delete orgkeys"
first). Prints only the DSN on standard output.

Flags:
${API_URL_HELP}

Examples:
  export HOOP_KEY=$(hoop admin create orgkeys)`,
  options: { ...API_URL_OPTION },
  async run(ctx, { values }) {
    const api = await clientFor(ctx, values);
    try {
      const key = await api.post<OrgKey>("/api/orgkeys");
      await ctx.stdout.writeln(key.dsn);
      return 0;
    } finally {
      api.close();
    }
  },
};

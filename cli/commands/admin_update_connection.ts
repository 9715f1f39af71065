import type { Connection } from "../../proto/api_types.ts";
import { type Command, requiredFlag, requiredPositional } from "../command.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor, segment } from "./_api.ts";

/** `hoop admin update connection NAME --groups a,b`: change who may use a connection. */
export const adminUpdateConnectionCommand: Command = {
  path: ["admin", "update", "connection"],
  aliases: [["admin", "update", "conn"]],
  summary: "Change a connection's groups (also one published by hoop run)",
  usage: "hoop admin update connection NAME --groups a,b [--api-url URL]",
  help: `The groups replace the old ones; users see and use the connection when one of their
groups is among them. Connections published by "hoop run" start with no groups (admins only);
groups set here stay through the agent's reconnects and restarts. --groups "" clears them.

Flags:
  --groups a,b        the connection's groups, comma-separated
${API_URL_HELP}

Examples:
  hoop admin update connection pgdemo --groups dba,ops
  hoop admin update connection py --groups ""`,
  options: { groups: { type: "string" }, ...API_URL_OPTION },
  allowPositionals: 1,
  async run(ctx, args) {
    const name = requiredPositional(args, 0, "NAME");
    const groups = requiredFlag(args.values, "groups");
    const api = await clientFor(ctx, args.values);
    try {
      const { connection } = await api.patch<{ connection: Connection }>(
        `/api/connections/${segment(name)}`,
        { groups },
      );
      const list = connection.groups.length ? connection.groups.join(",") : "(none: admins only)";
      await ctx.stderr.writeln(`Updated connection "${name}": groups ${list}`);
      return 0;
    } finally {
      api.close();
    }
  },
};

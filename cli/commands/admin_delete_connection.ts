import type { Command } from "../command.ts";
import { API_URL_HELP, API_URL_OPTION, deleteNamed } from "./_api.ts";

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
  run: (ctx, args) =>
    deleteNamed(ctx, args, { label: "NAME", collection: "connections", noun: "connection" }),
};

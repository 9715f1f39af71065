import type { Command } from "../command.ts";
import { API_URL_HELP, API_URL_OPTION, deleteNamed } from "./_api.ts";

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
  run: (ctx, args) => deleteNamed(ctx, args, { label: "EMAIL", collection: "users", noun: "user" }),
};

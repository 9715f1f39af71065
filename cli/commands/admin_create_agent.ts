import type { Agent } from "../../proto/api_types.ts";
import { type Command, requiredPositional, stringFlag, UsageError } from "../command.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor } from "./_api.ts";

const MODES = ["standard", "embedded"];

/** `hoop admin create agent NAME`: create an agent key and print its DSN. */
export const adminCreateAgentCommand: Command = {
  path: ["admin", "create", "agent"],
  summary: "Create an agent key and print its DSN (HOOP_KEY)",
  usage: "hoop admin create agent NAME [--mode standard|embedded] [--api-url URL]",
  help: `Prints only the DSN on standard output, so it can be captured by a shell.
The key is shown once; the gateway keeps only its hash.

Flags:
  --mode MODE         standard (default; "hoop start agent") or embedded ("hoop run")
${API_URL_HELP}

Examples:
  export HOOP_KEY=$(hoop admin create agent dev)
  hoop admin create agent railsapp --mode embedded`,
  options: { mode: { type: "string" }, ...API_URL_OPTION },
  allowPositionals: 1,
  async run(ctx, args) {
    const name = requiredPositional(args, 0, "NAME");
    const mode = stringFlag(args.values, "mode");
    if (mode !== undefined && !MODES.includes(mode)) {
      throw new UsageError(`unknown mode "${mode}": choose one of ${MODES.join(", ")}`);
    }
    const api = await clientFor(ctx, args.values);
    try {
      const { dsn } = await api.post<{ agent: Agent; dsn: string }>("/api/agents", {
        name,
        ...(mode ? { mode } : {}),
      });
      await ctx.stdout.writeln(dsn);
      return 0;
    } finally {
      api.close();
    }
  },
};

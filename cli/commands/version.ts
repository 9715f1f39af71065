import type { Command } from "../command.ts";
import { VERSION } from "../version.ts";

/** `hoop version`: print the CLI's version. */
export const versionCommand: Command = {
  path: ["version"],
  summary: "Print the version of hoop",
  usage: "hoop version",
  help: `Prints "hoop <version>" on standard output, like "hoop --version".

Examples:
  hoop version`,
  options: {},
  async run(ctx) {
    await ctx.stdout.writeln(`hoop ${VERSION}`);
    return 0;
  },
};

import { buildCommit } from "../../proto/version.ts";
import type { Command } from "../command.ts";
import { VERSION } from "../version.ts";

/** The commit of a source checkout, from git; `unknown` without git or outside a checkout. */
async function sourceCommit(): Promise<string> {
  try {
    const dir = new URL("../..", import.meta.url).pathname;
    const out = await new Deno.Command("git", {
      args: ["-C", dir, "rev-parse", "--short=12", "HEAD"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    return out.success && text ? text : "unknown";
  } catch {
    return "unknown";
  }
}

/** `hoop version`: version, commit, Deno version and platform. */
export const versionCommand: Command = {
  path: ["version"],
  summary: "Print the version of hoop",
  usage: "hoop version",
  help: `Prints "hoop <version>" on the first line of standard output (like "hoop --version"),
then the git commit it was built from ("unknown" when neither the build nor git says), the Deno
version inside it and the platform. Agents report the same version to the gateway
("hoop admin get agents").

Examples:
  hoop version`,
  options: {},
  async run(ctx) {
    const commit = buildCommit() ?? await sourceCommit();
    await ctx.stdout.writeln(`hoop ${VERSION}`);
    await ctx.stdout.writeln(`commit:   ${commit}`);
    await ctx.stdout.writeln(`deno:     ${Deno.version.deno}`);
    await ctx.stdout.writeln(`platform: ${Deno.build.os}/${Deno.build.arch}`);
    return 0;
  },
};

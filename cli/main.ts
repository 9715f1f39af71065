/**
 * The entry point of the `hoop` binary: dispatch `hoop <cmd> [<sub> ...]` to a
 * registered leaf command, print help and usage errors, and turn errors into
 * messages and exit codes. This is the only module that calls `Deno.exit`.
 *
 * Exit codes: 0 success, 1 a failed operation, 2 a usage error, `hoop` alone
 * included (commands such as `exec` and `run` pass a remote exit code through).
 *
 * @module
 */

import { escapeControl } from "../proto/printable.ts";
import { HoopError } from "../proto/errors.ts";
import { type Command, commandName, parseCommandArgs, UsageError } from "./command.ts";
import { COMMANDS } from "./commands/mod.ts";
import { type Context, processContext } from "./context.ts";
import { VERSION } from "./version.ts";

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** The command registry; the real one by default. */
  commands?: Command[];
}

/** Exit code after a usage error. */
const EXIT_USAGE = 2;
/** Exit code when stdout's reader went away (as a shell reports SIGPIPE). */
const EXIT_BROKEN_PIPE = 141;

const TOP_SUMMARY = "hoop: reach private databases, services and consoles through a gateway";
const TOP_EXAMPLES = `Examples:
  hoop start gateway
  hoop signup --email admin@example.com
  export HOOP_KEY=$(hoop admin create agent dev)
  hoop admin get agents -o json`;

function isHelpFlag(arg: string): boolean {
  return arg === "--help" || arg === "-h";
}

function allPaths(command: Command): string[][] {
  return [command.path, ...command.aliases ?? []];
}

function startsWith(args: string[], path: string[]): boolean {
  return path.length <= args.length && path.every((word, i) => args[i] === word);
}

/** The command whose path (or alias) is the longest prefix of `args`. */
function findCommand(
  commands: Command[],
  args: string[],
): { command: Command; consumed: number } | undefined {
  let best: { command: Command; consumed: number } | undefined;
  for (const command of commands) {
    for (const path of allPaths(command)) {
      if (startsWith(args, path) && (!best || path.length > best.consumed)) {
        best = { command, consumed: path.length };
      }
    }
  }
  return best;
}

/** The longest prefix of `args` that starts some command's path: a command group. */
function groupPrefix(commands: Command[], args: string[]): string[] {
  let prefix: string[] = [];
  for (const command of commands) {
    let n = 0;
    while (n < command.path.length - 1 && n < args.length && command.path[n] === args[n]) n++;
    if (n > prefix.length) prefix = command.path.slice(0, n);
  }
  return prefix;
}

function commandList(commands: Command[], group: string[]): string {
  const members = commands.filter((c) => startsWith(c.path, group));
  const names = members.map((c) => c.path.join(" "));
  const width = Math.max(...names.map((n) => n.length));
  return members.map((c, i) => `  ${names[i].padEnd(width)}   ${c.summary}`).join("\n");
}

function topHelp(commands: Command[]): string {
  return `${TOP_SUMMARY}

Usage:
  hoop <command> [<subcommand> ...] [flags]
  hoop <command> --help
  hoop --version

Commands:
${commandList(commands, [])}

${TOP_EXAMPLES}
`;
}

function groupHelp(commands: Command[], group: string[]): string {
  return `Usage:
  hoop ${group.join(" ")} <command> [flags]

Commands:
${commandList(commands, group)}

Run "hoop ${group.join(" ")} <command> --help" for a command's flags and examples.
`;
}

function commandHelp(command: Command): string {
  return `${command.summary}

Usage:
  ${command.usage}

${command.help.trim()}
`;
}

async function usageFailure(ctx: Context, command: Command, err: UsageError): Promise<number> {
  await ctx.stderr.writeln(`${commandName(command)}: ${err.message}`);
  if (err.hint) await ctx.stderr.writeln(`Hint: ${err.hint}`);
  await ctx.stderr.writeln(`Usage: ${command.usage}`);
  await ctx.stderr.writeln(`Run "${commandName(command)} --help" for more.`);
  return EXIT_USAGE;
}

async function unknownCommand(
  ctx: Context,
  commands: Command[],
  group: string[],
  word: string,
): Promise<number> {
  const what = word.startsWith("-") ? "option" : "command";
  await ctx.stderr.writeln(`${["hoop", ...group].join(" ")}: unknown ${what} "${word}"`);
  await ctx.stderr.writeln("Valid commands:");
  await ctx.stderr.writeln(commandList(commands, group));
  return EXIT_USAGE;
}

async function reportError(ctx: Context, err: unknown): Promise<number> {
  if (err instanceof HoopError) {
    // Messages may quote what a remote peer said: never let it drive the terminal.
    await ctx.stderr.writeln(`hoop: ${escapeControl(err.message)}`);
    if (err.hint) await ctx.stderr.writeln(`Hint: ${escapeControl(err.hint)}`);
    return err.exitCode;
  }
  const message = escapeControl(err instanceof Error ? err.message : String(err));
  await ctx.stderr.writeln(`hoop: internal error: ${message}`);
  if (ctx.env("HOOP_LOG_LEVEL") === "debug" && err instanceof Error && err.stack) {
    await ctx.stderr.writeln(err.stack);
  }
  return 1;
}

/**
 * Run the CLI with `args` (without the program name) in `ctx` and return the
 * exit code. Never exits the process, so tests call it in-process.
 */
export async function runCli(
  args: string[],
  ctx: Context,
  options: RunCliOptions = {},
): Promise<number> {
  const commands = options.commands ?? COMMANDS;
  try {
    if (args.length === 0) {
      // No command is a usage error: scripts see exit 2, a person sees the usage.
      await ctx.stderr.write(topHelp(commands));
      return EXIT_USAGE;
    }
    if (args.length === 1 && isHelpFlag(args[0])) {
      await ctx.stdout.write(topHelp(commands));
      return 0;
    }
    if (args[0] === "--version") {
      await ctx.stdout.writeln(`hoop ${VERSION}`);
      return 0;
    }
    if (args[0] === "help") {
      // "hoop help --help" and "hoop help admin get -h" ask for the same help as without the flag.
      const words = args.slice(1).filter((word) => !isHelpFlag(word));
      if (words.length === 0) {
        await ctx.stdout.write(topHelp(commands));
        return 0;
      }
      const found = findCommand(commands, words);
      if (found && found.consumed === words.length) {
        await ctx.stdout.write(commandHelp(found.command));
        return 0;
      }
      const group = groupPrefix(commands, words);
      if (group.length === words.length) {
        await ctx.stdout.write(groupHelp(commands, group));
        return 0;
      }
      return await unknownCommand(ctx, commands, group, words[group.length]);
    }

    const found = findCommand(commands, args);
    if (!found) {
      const group = groupPrefix(commands, args);
      const next = args[group.length];
      if (group.length > 0 && (next === undefined || isHelpFlag(next))) {
        await ctx.stdout.write(groupHelp(commands, group));
        return 0;
      }
      return await unknownCommand(ctx, commands, group, next);
    }

    const { command, consumed } = found;
    const own = args.slice(consumed);
    const dashes = own.indexOf("--");
    if ((dashes < 0 ? own : own.slice(0, dashes)).some(isHelpFlag)) {
      await ctx.stdout.write(commandHelp(command));
      return 0;
    }
    try {
      const parsed = parseCommandArgs(command, own);
      return await command.run(ctx, parsed);
    } catch (err) {
      if (err instanceof UsageError) return await usageFailure(ctx, command, err);
      throw err;
    }
  } catch (err) {
    if (err instanceof Deno.errors.BrokenPipe) return EXIT_BROKEN_PIPE;
    return await reportError(ctx, err);
  }
}

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, processContext()));
}

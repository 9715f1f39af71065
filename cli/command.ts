/**
 * The shape of a leaf command and its argument parsing. Each command lives in
 * its own file under `cli/commands/` and is registered in
 * `cli/commands/mod.ts`; `cli/main.ts` dispatches to it by its word path.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { HoopError } from "../proto/errors.ts";
import type { Context } from "./context.ts";

export type { ParseArgsOptionsConfig };

/** Parsed flag values: strings and booleans only (every flag is declared one or the other). */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** What {@linkcode Command.run} receives. */
export interface CommandArgs {
  /** Flag values by long name. */
  values: FlagValues;
  /** Positional arguments after the command's words. */
  positionals: string[];
  /** With {@linkcode Command.passThrough}: everything after the first `--`. */
  rest?: string[];
}

/** One leaf command such as `hoop admin get`. */
export interface Command {
  /** The words that select it: `["admin", "get"]`. */
  path: string[];
  /** Other word paths accepted for it: `[["admin", "create", "orgkey"]]`. */
  aliases?: string[][];
  /** One line, shown in command lists. */
  summary: string;
  /** The usage line without "Usage:": `hoop admin get RESOURCE [ID] [-o json|table]`. */
  usage: string;
  /** Longer help: flags, behaviour, and an Examples block. */
  help: string;
  /** `node:util` parseArgs options; every flag is declared `string` or `boolean`. */
  options: ParseArgsOptionsConfig;
  /** Most positionals accepted (default 0), or "any". */
  allowPositionals?: number | "any";
  /** Split the arguments at the first `--`; what follows arrives as `rest`. */
  passThrough?: boolean;
  /** Do the work; return the exit code or throw a HoopError. */
  run(ctx: Context, args: CommandArgs): Promise<number>;
}

/**
 * A mistake in how the command was called. `cli/main.ts` prints it as
 * `hoop admin get: <message>`, its hint, and the command's usage line, and exits 2.
 */
export class UsageError extends HoopError {
  constructor(message: string, options?: ErrorOptions & { hint?: string }) {
    super("invalid_argument", message, options);
    this.name = "UsageError";
  }
}

/** The full name of a command: `hoop admin get`. */
export function commandName(command: Pick<Command, "path">): string {
  return ["hoop", ...command.path].join(" ");
}

function quoteOption(parseMessage: string): string {
  return /'([^' ]+)/.exec(parseMessage)?.[1] ?? parseMessage;
}

/** Parse `args` for `command`; throws {@linkcode UsageError} on any mistake. */
export function parseCommandArgs(command: Command, args: string[]): CommandArgs {
  let own = args;
  let rest: string[] | undefined;
  if (command.passThrough) {
    const dashes = args.indexOf("--");
    if (dashes >= 0) {
      own = args.slice(0, dashes);
      rest = args.slice(dashes + 1);
    } else {
      rest = [];
    }
  }
  let parsed: { values: FlagValues; positionals: string[] };
  try {
    parsed = parseArgs({
      args: own,
      options: command.options,
      strict: true,
      allowPositionals: true,
    }) as { values: FlagValues; positionals: string[] };
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = (err as Error).message;
    switch (code) {
      case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
        throw new UsageError(`unknown option "${quoteOption(message)}"`, { cause: err });
      case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
        const option = /'(?:-\w, )?(--[^' ]+)/.exec(message)?.[1] ?? quoteOption(message);
        const state = /does not take/.test(message) ? "takes no value" : "needs a value";
        throw new UsageError(`option "${option}" ${state}`, { cause: err });
      }
      default:
        throw new UsageError(message, { cause: err });
    }
  }
  const max = command.allowPositionals ?? 0;
  if (max !== "any" && parsed.positionals.length > max) {
    const extra = parsed.positionals[max];
    throw new UsageError(`unexpected argument "${extra}"`);
  }
  return { values: parsed.values, positionals: parsed.positionals, rest };
}

/** A string flag's value, or `undefined` when absent. */
export function stringFlag(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  if (Array.isArray(v)) return v.length ? String(v[v.length - 1]) : undefined;
  return typeof v === "string" ? v : undefined;
}

/** A string flag that must be given. */
export function requiredFlag(values: FlagValues, name: string): string {
  const v = stringFlag(values, name);
  if (v === undefined || v === "") throw new UsageError(`option "--${name}" is required`);
  return v;
}

/** A boolean flag's value. */
export function booleanFlag(values: FlagValues, name: string): boolean {
  return values[name] === true;
}

/** The positional at `index`, named `label` in the error when missing. */
export function requiredPositional(args: CommandArgs, index: number, label: string): string {
  const v = args.positionals[index];
  if (v === undefined || v === "") throw new UsageError(`missing argument ${label}`);
  return v;
}

/** Split `a,b, c` into `["a","b","c"]`, dropping empty entries. */
export function splitList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

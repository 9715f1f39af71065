/** Helpers shared by the commands that talk to the gateway API. */

import { ApiClient, apiClientFor } from "../api_client.ts";
import {
  booleanFlag,
  type CommandArgs,
  type FlagValues,
  requiredPositional,
  stringFlag,
  UsageError,
} from "../command.ts";
import type { Context } from "../context.ts";

/** The `--api-url` flag every API command declares. */
export const API_URL_OPTION = { "api-url": { type: "string" } } as const;

/** The help lines describing {@linkcode API_URL_OPTION}. */
export const API_URL_HELP =
  "  --api-url URL       the gateway API (default: HOOP_API_URL, ~/.hoop/config.json, then\n" +
  "                      http://127.0.0.1:8009)";

/** A client for the gateway chosen by `--api-url`, the environment or the config file. */
export function clientFor(ctx: Context, values: FlagValues): Promise<ApiClient> {
  return apiClientFor(ctx, { apiUrl: stringFlag(values, "api-url") });
}

/** Encode one path segment (a name or an email). */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

/**
 * Get a password: the first line of stdin with `--password-stdin`, otherwise a
 * no-echo prompt when stdin is a terminal; a usage error when neither works.
 */
export async function readPassword(
  ctx: Context,
  values: FlagValues,
  options: { confirm?: boolean } = {},
): Promise<string> {
  let password: string;
  if (booleanFlag(values, "password-stdin")) {
    password = await ctx.stdin.readLine() ?? "";
  } else if (ctx.isTerminal) {
    password = await ctx.promptSecret("Password: ");
    if (options.confirm && password !== "") {
      const again = await ctx.promptSecret("Confirm password: ");
      if (again !== password) throw new UsageError("the two passwords differ");
    }
  } else {
    throw new UsageError(
      "a password is needed: pass --password-stdin and write it to standard input",
    );
  }
  if (password === "") throw new UsageError("the password is empty");
  return password;
}

/** What {@linkcode deleteNamed} deletes: `DELETE /api/{collection}/{value}`. */
export interface NamedResource {
  /** The positional's label in usage errors (`NAME`, `EMAIL`). */
  label: string;
  /** The API collection (`agents`, `connections`, `users`). */
  collection: string;
  /** The word in the confirmation (`agent`, `connection`, `user`). */
  noun: string;
}

/** The body of every `hoop admin delete X NAME`: one DELETE, a confirmation on stderr. */
export async function deleteNamed(
  ctx: Context,
  args: CommandArgs,
  what: NamedResource,
): Promise<number> {
  const value = requiredPositional(args, 0, what.label);
  const api = await clientFor(ctx, args.values);
  try {
    await api.delete(`/api/${what.collection}/${segment(value)}`);
    await ctx.stderr.writeln(`Deleted ${what.noun} "${value}"`);
    return 0;
  } finally {
    api.close();
  }
}

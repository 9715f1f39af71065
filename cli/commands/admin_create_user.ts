import type { User } from "../../proto/api_types.ts";
import {
  booleanFlag,
  type Command,
  requiredPositional,
  splitList,
  stringFlag,
  UsageError,
} from "../command.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor, readPassword } from "./_api.ts";

const ROLES = ["admin", "user"];

/** `hoop admin create user EMAIL --role admin|user`. */
export const adminCreateUserCommand: Command = {
  path: ["admin", "create", "user"],
  summary: "Add a user; prints a generated password, shown only this once, when none is given",
  usage:
    "hoop admin create user EMAIL [--role admin|user] [--groups a,b] [--password-stdin] [--api-url URL]",
  help: `Without --password-stdin the gateway generates a password and it is printed once on
standard output; pass it to the user over a safe channel.

Flags:
  --role ROLE         admin or user (default user)
  --groups a,b        the user's groups (they grant access to connections with a shared group)
  --password-stdin    read the password from the first line of standard input
${API_URL_HELP}

Examples:
  hoop admin create user alice@example.com --groups dba,dev
  hoop admin create user bob@example.com --role admin
  echo "$PW" | hoop admin create user ci@example.com --password-stdin`,
  options: {
    role: { type: "string" },
    groups: { type: "string" },
    "password-stdin": { type: "boolean" },
    ...API_URL_OPTION,
  },
  allowPositionals: 1,
  async run(ctx, args) {
    const email = requiredPositional(args, 0, "EMAIL");
    const role = stringFlag(args.values, "role") ?? "user";
    if (!ROLES.includes(role)) {
      throw new UsageError(`unknown role "${role}": choose one of ${ROLES.join(", ")}`);
    }
    const groups = splitList(stringFlag(args.values, "groups"));
    const password = booleanFlag(args.values, "password-stdin")
      ? await readPassword(ctx, args.values)
      : undefined;
    const api = await clientFor(ctx, args.values);
    try {
      const answer = await api.post<{ user: User; password?: string }>("/api/users", {
        email,
        role,
        ...(groups ? { groups } : {}),
        ...(password !== undefined ? { password } : {}),
      });
      await ctx.stderr.writeln(`Created user "${email}" (role ${answer.user?.role ?? role})`);
      if (answer.password) await ctx.stdout.writeln(answer.password);
      return 0;
    } finally {
      api.close();
    }
  },
};

import type { Connection } from "../../proto/api_types.ts";
import {
  type Command,
  type FlagValues,
  requiredFlag,
  requiredPositional,
  splitList,
  stringFlag,
  UsageError,
} from "../command.ts";
import { parseHostPort as parseTcpAddress } from "../../proto/host_port.ts";
import { parsePostgresUri } from "../../proto/postgres_uri.ts";
import { parseMysqlUri } from "../../proto/mysql_uri.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor } from "./_api.ts";

const TYPE_FLAGS = ["postgres", "mysql", "tcp", "command"] as const;

/** Parse a `--tcp` target, `HOST:PORT` (or `[IPv6]:PORT`); the host may not be empty. */
export function parseHostPort(value: string): { host: string; port: number } {
  const usage = () =>
    new UsageError(`invalid --tcp "${value}": expected HOST:PORT with a port 1-65535`);
  if (value.trim().startsWith(":")) throw usage();
  try {
    const { hostname, port } = parseTcpAddress(value, { what: "--tcp" });
    return { host: hostname, port };
  } catch {
    throw usage();
  }
}

function typeAndConfig(values: FlagValues): { type: string; config: Record<string, unknown> } {
  const given = TYPE_FLAGS.filter((f) => stringFlag(values, f) !== undefined);
  if (given.length !== 1) {
    const choices = TYPE_FLAGS.map((f) => `--${f}`).join(", ");
    throw new UsageError(
      given.length === 0
        ? `a connection type is needed: pass one of ${choices}`
        : `only one connection type may be given, got ${given.map((f) => `--${f}`).join(" and ")}`,
    );
  }
  const type = given[0];
  const value = stringFlag(values, type)!;
  if (value === "") throw new UsageError(`option "--${type}" needs a value`);
  switch (type) {
    case "postgres":
      // Parsed as the agent parses it: a bad sslmode or port fails now, not at the first session.
      parsePostgresUri(value);
      return { type, config: { uri: value } };
    case "mysql":
      parseMysqlUri(value);
      return { type, config: { uri: value } };
    case "tcp":
      return { type, config: parseHostPort(value) };
    case "command":
      return { type, config: { command: value } };
  }
}

/** `hoop admin create connection NAME --agent A --postgres URI|--tcp HOST:PORT|--command CMD`. */
export const adminCreateConnectionCommand: Command = {
  path: ["admin", "create", "connection"],
  aliases: [["admin", "create", "conn"]],
  summary: "Publish a resource (postgres, mysql, tcp or command) through an agent",
  usage:
    "hoop admin create connection NAME --agent AGENT (--postgres URI | --mysql URI | --tcp HOST:PORT | --command CMD) [--groups a,b] [--api-url URL]",
  help: `Exactly one of --postgres, --mysql, --tcp and --command gives the connection's type.
Users see and use a connection when one of their groups is among its groups.

Flags:
  --agent AGENT       the agent that reaches the resource
  --postgres URI      a PostgreSQL server: postgres://user:password@host:port/db
  --mysql URI         a MySQL or MariaDB server: mysql://user:password@host:3306/db?ssl-mode=REQUIRED
                      (the credentials stay on the agent)
  --tcp HOST:PORT     a TCP service
  --command CMD       a command line run by the agent (consoles, REPLs, scripts)
  --groups a,b        groups allowed to use it
${API_URL_HELP}

Examples:
  hoop admin create connection pg --agent dev --postgres 'postgres://app:pw@10.0.0.5/app' --groups dba
  hoop admin create connection web --agent dev --tcp 10.0.0.7:8080
  hoop admin create connection console --agent dev --command 'bash'`,
  options: {
    agent: { type: "string" },
    postgres: { type: "string" },
    mysql: { type: "string" },
    tcp: { type: "string" },
    command: { type: "string" },
    groups: { type: "string" },
    ...API_URL_OPTION,
  },
  allowPositionals: 1,
  async run(ctx, args) {
    const name = requiredPositional(args, 0, "NAME");
    const agent = requiredFlag(args.values, "agent");
    const { type, config } = typeAndConfig(args.values);
    const groups = splitList(stringFlag(args.values, "groups"));
    const api = await clientFor(ctx, args.values);
    try {
      await api.post<{ connection: Connection }>("/api/connections", {
        name,
        agent,
        type,
        config,
        ...(groups ? { groups } : {}),
      });
      await ctx.stderr.writeln(`Created connection "${name}" (${type}) on agent "${agent}"`);
      return 0;
    } finally {
      api.close();
    }
  },
};

import { log } from "../../proto/log.ts";
import { installProcessGuard } from "../../proto/process_guard.ts";
import type { AgentExit, EmbeddedConnection } from "../../agent/mod.ts";
import { splitCommandLine } from "../../proto/command_line.ts";
import { parsePostgresUri, redactPostgresUri } from "../../proto/postgres_uri.ts";
import { parseMysqlUri, redactMysqlUri } from "../../proto/mysql_uri.ts";
import { validateName } from "../../proto/dsn.ts";
import { HoopError } from "../../proto/errors.ts";
import { hostname } from "node:os";
import { loadTlsCa } from "../api_client.ts";
import { type Command, type FlagValues, stringFlag, UsageError } from "../command.ts";
import type { Context } from "../context.ts";
import { tcpTarget } from "./connect.ts";
import { agentKey } from "./start_agent.ts";
import { parseDuration } from "./start_gateway.ts";
import {
  DEFAULT_STOP_TIMEOUT_MS,
  reapOrphansAsInit,
  startApplication,
  type Supervised,
} from "../init_process.ts";

/** Exit code of `hoop run` when hoop itself fails before the application could run. */
const RUN_FAILURE_EXIT = 255;

/**
 * Refuse `hoop run -- APP` unless the flags say what to publish. Beside an
 * application the defaults (a console on $SHELL named after the host) would
 * quietly give every admin a shell on the application's host; an operator who
 * wants that says so with --command.
 */
export function requireExplicitResource(values: FlagValues, app: string[]): void {
  if (app.length === 0) return;
  const given = ["postgres", "mysql", "tcp", "command"].some((f) =>
    stringFlag(values, f) !== undefined
  );
  if (given) return;
  const name = stringFlag(values, "name") ?? "NAME";
  throw new UsageError(
    `"-- ${app[0]}" needs one of --postgres, --mysql, --tcp or --command: ` +
      "hoop run does not publish " +
      "a shell beside an application by default",
    { hint: `for example "hoop run --name ${name} --command 'rails console' -- ${app.join(" ")}"` },
  );
}

/** Build the one connection `hoop run` publishes from its flags. */
export function embeddedConnection(ctx: Context, values: FlagValues): EmbeddedConnection {
  const pg = stringFlag(values, "postgres");
  const my = stringFlag(values, "mysql");
  const tcp = stringFlag(values, "tcp");
  const cmd = stringFlag(values, "command");
  const given = [pg, my, tcp, cmd].filter((v) => v !== undefined).length;
  if (given > 1) throw new UsageError("use only one of --postgres, --mysql, --tcp, --command");
  let name = stringFlag(values, "name");
  if (name === undefined) {
    // The host name, made into a valid connection name.
    name =
      hostname().toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63) ||
      "hoop";
  }
  validateName("connection", name);
  if (pg !== undefined) {
    const uri = withPasswordFromEnv(pg, ctx.env("PGPASSWORD"));
    parsePostgresUri(uri);
    return {
      name,
      type: "postgres",
      config: { uri },
      publicConfig: { uri: redactPostgresUri(uri) },
    };
  }
  if (my !== undefined) {
    const uri = withPasswordFromEnv(my, ctx.env("MYSQL_PWD"));
    parseMysqlUri(uri);
    return { name, type: "mysql", config: { uri }, publicConfig: { uri: redactMysqlUri(uri) } };
  }
  if (tcp !== undefined) {
    const t = tcpTarget(tcp);
    return { name, type: "tcp", config: t, publicConfig: t };
  }
  const command = cmd ?? ctx.env("SHELL") ?? "/bin/sh";
  splitCommandLine(command);
  return { name, type: "command", config: { command }, publicConfig: { command } };
}

/**
 * A URI without a password takes PGPASSWORD, as libpq does, so the password
 * need not appear on the command line (and in every process listing).
 */
function withPasswordFromEnv(uri: string, password: string | undefined): string {
  if (!password) return uri;
  try {
    const u = new URL(uri);
    if (u.password || u.searchParams.has("password") || !u.username) return uri;
    u.password = encodeURIComponent(password);
    return u.toString();
  } catch {
    return uri; // parsePostgresUri names the problem.
  }
}

/** `hoop run`: an embedded agent publishing one connection, optionally beside an application. */
export const runCommand: Command = {
  path: ["run"],
  summary: "Run an embedded agent that publishes one connection (optionally beside an app)",
  usage:
    "hoop run [--name NAME] (--postgres URI | --mysql URI | --tcp HOST:PORT | --command CMD) [-- APP ARGS...]",
  help: `Publishes exactly one connection named --name (default: this host's name) and serves
it (when a default chose the name or the command, a line on stderr says what is published), with HOOP_KEY set to the organization key ("hoop admin get orgkeys") or to an agent key
with mode=embedded. Secrets in --postgres stay here: the gateway only sees a redacted URI.
To keep the password out of process listings, leave it out of the URI and set PGPASSWORD
(MYSQL_PWD for --mysql).

With "-- APP ARGS", one of --postgres, --tcp or --command is required: beside an application,
hoop run never publishes a shell by default. APP runs in the foreground with this terminal's stdin/stdout/stderr,
SIGTERM, SIGINT, SIGHUP and SIGQUIT are forwarded to it (and to its process group when it leads
one), and hoop run exits with its exit code, or 128+N when signal N ended it (stopping the
agent). After SIGTERM the application has --stop-timeout (default 10s) to exit; then, or at a
second SIGTERM, it gets SIGKILL. As a container's PID 1, hoop run also reaps orphaned processes.
It needs no terminal, no writable home and no writable working directory; its own messages go to
stderr only. Without "--", hoop run serves until SIGINT/SIGTERM or until its key is revoked.
Exit codes: the application's (or 128+signal); 1 when the key is refused; 2 for usage errors;
255 when the application cannot be started.

Options:
  --name NAME          connection name (letters, digits, hyphens)
  --postgres URI       a PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DB
  --mysql URI          a MySQL or MariaDB database, mysql://USER:PASSWORD@HOST:3306/DB
  --tcp HOST:PORT      a TCP service
  --command CMD        a command or console (default without "--": $SHELL)
  --stop-timeout T     after SIGTERM, wait T (10s, 500ms, 1m) before SIGKILL (default 10s)

Examples:
  hoop run --name pgdemo --postgres 'postgres://app:secret@127.0.0.1:5432/app'
  hoop run --name railsc --command 'rails console'
  hoop run --command 'rails console' -- bundle exec rails s -p 3000 -b 0.0.0.0`,
  options: {
    name: { type: "string" },
    postgres: { type: "string" },
    mysql: { type: "string" },
    tcp: { type: "string" },
    command: { type: "string" },
    "stop-timeout": { type: "string" },
  },
  passThrough: true,
  async run(ctx, args) {
    const app = args.rest ?? [];
    requireExplicitResource(args.values, app);
    const timeoutText = stringFlag(args.values, "stop-timeout");
    const stopTimeout = timeoutText === undefined
      ? DEFAULT_STOP_TIMEOUT_MS
      : parseDuration(timeoutText, "--stop-timeout");
    const dsn = agentKey(ctx);
    const embedded = embeddedConnection(ctx, args.values);
    const defaults = publishLine(embedded, args.values);
    if (defaults) await ctx.stderr.writeln(defaults);
    const tlsCa = await loadTlsCa(ctx);
    const stop = new AbortController();
    // Loaded here, not at the top: grpc-js costs every other command ~0.3 s of start-up.
    const { runAgent } = await import("../../agent/mod.ts");
    installProcessGuard(log.with({ component: "agent" }));
    const agent = runAgent({
      dsn: { ...dsn, mode: "embedded" },
      tlsCa,
      embedded,
      signal: stop.signal,
    });
    if (app.length === 0) return await serveUntilSignal(ctx, agent, stop);
    return await runApplication(ctx, app, agent, stop, stopTimeout);
  },
};

/**
 * The start-up line naming what is published when a default chose part of it
 * (the name, or $SHELL); `undefined` when the flags said everything.
 */
function publishLine(c: EmbeddedConnection, values: FlagValues): string | undefined {
  const what = c.type === "postgres" || c.type === "mysql"
    ? `${c.type} ${c.publicConfig.uri}`
    : c.type === "tcp"
    ? `tcp ${c.publicConfig.host}:${c.publicConfig.port}`
    : `command "${c.publicConfig.command}"`;
  const defaults: string[] = [];
  if (stringFlag(values, "name") === undefined) defaults.push("the name is this host's name");
  if (c.type === "command" && stringFlag(values, "command") === undefined) {
    defaults.push("the command is the default $SHELL");
  }
  if (defaults.length === 0) return undefined;
  return `hoop run: publishing connection "${c.name}": ${what} (${
    defaults.join("; ")
  }: see "hoop run --help")`;
}

async function serveUntilSignal(
  ctx: Context,
  agent: Promise<AgentExit>,
  stop: AbortController,
): Promise<number> {
  // As a container's PID 1, consoles' orphans (a "cmd &" typed in one) end up here.
  const reaper = reapOrphansAsInit((line) => void ctx.stderr.writeln(line).catch(() => {}));
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const exit = await agent;
    if (exit.reason !== "stopped") throw refusal(exit.message);
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    reaper?.stop();
  }
}

/** Why the gateway refused the agent: a name conflict is not an authentication failure. */
function refusal(message: string): HoopError {
  if (message.startsWith("Cannot publish")) {
    return new HoopError("already_exists", message, {
      hint: 'choose another --name; "hoop admin get connections" lists the names in use',
    });
  }
  return new HoopError(
    "unauthenticated",
    message.startsWith("unauthorized") ? message : `unauthorized: ${message}`,
  );
}

async function runApplication(
  ctx: Context,
  argv: string[],
  agent: Promise<AgentExit>,
  stop: AbortController,
  stopTimeoutMs: number,
): Promise<number> {
  const warn = (line: string) => void ctx.stderr.writeln(line).catch(() => {});
  let app: Supervised;
  try {
    app = startApplication(argv, { stopTimeoutMs, warn });
  } catch (err) {
    stop.abort();
    await agent;
    const why = err instanceof Deno.errors.NotFound ? "command not found" : (err as Error).message;
    await ctx.stderr.writeln(`hoop: Cannot start application "${argv[0]}": ${why}`);
    return RUN_FAILURE_EXIT;
  }
  void agent.then(async (exit) => {
    if (exit.reason !== "stopped") {
      await ctx.stderr.writeln(
        `hoop: the agent stopped: ${exit.message}; the application keeps running`,
      );
    }
  });
  try {
    return await app.exitCode;
  } finally {
    stop.abort();
    await agent;
  }
}

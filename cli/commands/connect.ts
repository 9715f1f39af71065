import { HoopError, invalidArgument } from "../../proto/errors.ts";
import {
  FrameReader,
  FrameType,
  parseExit,
  resizePayload,
  writeFrame,
} from "../../proto/frames.ts";
import { formatHostPort, parseHostPort, portNumber } from "../../proto/host_port.ts";
import { describeNetError } from "../../proto/net_error.ts";
import { closeQuietly, writeAll } from "../../proto/bytes.ts";
import { acceptLoop } from "../../proto/accept_loop.ts";
import { encodeErrorResponse, negotiateStartup } from "../../proto/pgwire/mod.ts";
import { encodeErr, encodePacket, ErrorCode } from "../../proto/mysql/mod.ts";
import { Semaphore } from "../../proto/semaphore.ts";
import { splice } from "../../proto/splice.ts";
import { type ApiClient, type Connection, loadTlsCa } from "../api_client.ts";
import { type Command, stringFlag, UsageError } from "../command.ts";
import type { Context } from "../context.ts";
import { openSession, SpareConnection } from "../data_client.ts";
import { enterRawMode, onResize, terminalSize } from "../terminal.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor, segment } from "./_api.ts";
import { EndOfInputTypist } from "./_end_of_input.ts";
import { waitForShutdownSignal } from "./_signals.ts";

/** Default local ports by connection type. */
const DEFAULT_PORTS: Record<string, number> = { postgres: 5433, mysql: 3307, tcp: 8999 };

/**
 * Sessions one `hoop connect` opens at once; more client connections wait
 * their turn (they are not refused). Well under the gateway's per-user limit
 * of waiting sessions, so a connection pool's burst never meets it.
 */
export const MAX_CONCURRENT_OPENS = 32;
const OPENING = new Semaphore(MAX_CONCURRENT_OPENS);

/** Look up a connection the caller may use; unknown or forbidden ones fail here. */
export async function fetchConnection(api: ApiClient, name: string): Promise<Connection> {
  const { connection } = await api.get<{ connection: Connection }>(
    `/api/connections/${segment(name)}`,
  );
  if (connection.status !== "ONLINE") {
    throw new HoopError(
      "unavailable",
      `Cannot use connection "${name}": agent "${connection.agent}" is offline`,
      { hint: 'check the agent; "hoop admin get agents" shows its status' },
    );
  }
  return connection;
}

/** `hoop connect NAME`: a local port for postgres/tcp, or an interactive console for commands. */
export const connectCommand: Command = {
  path: ["connect"],
  summary: "Open a local port to a connection, or a console for a command connection",
  usage: "hoop connect NAME [-p PORT] [--listen HOST]",
  help: `For postgres, mysql and tcp connections, listens on a local port and relays every TCP
connection made to it through the gateway and the agent, until Ctrl-C. PostgreSQL and MySQL
clients log in with any user and password: the agent logs in to the server with the real
credentials.

For command connections, opens an interactive console: the terminal goes to raw mode, window
resizes and Ctrl-C reach the remote program, and hoop exits with the program's exit code.
When standard input is not a terminal (echo 'print(1)' | hoop connect py), hoop relays it and
then types Ctrl-D on the remote terminal once the program waits quietly for more (again after
each new prompt, at most 5 times), so the program ends as it would at a keyboard and hoop exits
with its code.

The login is read again for every new local connection (HOOP_TOKEN, then ~/.hoop/config.json):
when the token expires, new connections are refused with a line on stderr, and a "hoop login"
in another shell makes the next ones work without restarting hoop connect.

Options:
  -p, --port PORT   local port (default 5433 for postgres, 3307 for mysql, 8999 for tcp; 0 picks a free one)
  --listen HOST     local address to listen on (default 127.0.0.1)
${API_URL_HELP}

Examples:
  hoop connect pgdemo                   # then: psql -h 127.0.0.1 -p 5433 -U any
  hoop connect internal-http -p 8080
  hoop connect railsc                   # an interactive console
  echo 'print(1)' | hoop connect py     # the console reads the pipe, then end-of-input`,
  options: { port: { type: "string", short: "p" }, listen: { type: "string" }, ...API_URL_OPTION },
  allowPositionals: 1,
  async run(ctx, args) {
    const name = args.positionals[0];
    if (!name) throw new UsageError("missing argument NAME");
    const api = await clientFor(ctx, args.values);
    const conn = await fetchConnection(api, name);
    const caCert = await loadTlsCa(ctx);
    if (conn.type === "command") return await runConsole(ctx, api, name, caCert);
    const portText = stringFlag(args.values, "port");
    const port = portText === undefined
      ? DEFAULT_PORTS[conn.type] ?? 0
      : portNumber(portText, { allowZero: true });
    if (port === undefined) {
      throw new UsageError(`invalid port "${portText}": use a number from 0 to 65535`);
    }
    const host = stringFlag(args.values, "listen") ?? "127.0.0.1";
    api.close();
    // Each new local connection builds its own client, reading HOOP_TOKEN and the config
    // file again: a "hoop login" after the token expired serves the next connection.
    const freshClient = () => clientFor(ctx, args.values);
    return await serveLocalPort(ctx, freshClient, conn, { hostname: host, port }, caCert);
  },
};

async function serveLocalPort(
  ctx: Context,
  freshClient: () => Promise<ApiClient>,
  conn: Connection,
  addr: { hostname: string; port: number },
  caCert: string | undefined,
): Promise<number> {
  let listener: Deno.TcpListener;
  try {
    parseHostPort(formatHostPort(addr), { what: "listen address", allowZero: true });
    listener = Deno.listen({ hostname: addr.hostname, port: addr.port });
  } catch (err) {
    if (err instanceof HoopError) throw err;
    const hint = err instanceof Deno.errors.AddrInUse
      ? "choose another port with -p PORT"
      : undefined;
    throw new HoopError(
      "unavailable",
      `Cannot listen on ${formatHostPort(addr)}: ${describeNetError(err)}`,
      { cause: err, hint },
    );
  }
  const bound = listener.addr;
  await ctx.stderr.writeln(
    `listening on ${formatHostPort(bound)} for connection "${conn.name}" (${conn.type})`,
  );
  if (conn.type === "postgres") {
    await ctx.stderr.writeln(
      `  psql -h ${bound.hostname} -p ${bound.port} -U ${conn.name}   (any user and password)`,
    );
  } else if (conn.type === "mysql") {
    await ctx.stderr.writeln(
      `  mariadb -h ${bound.hostname} -P ${bound.port} -u ${conn.name}   (any user and password)`,
    );
  }
  const live = new Set<Deno.Conn>();
  const spare = new SpareConnection();
  const loop = acceptLoop(listener, async (local) => {
    live.add(local);
    try {
      await relayOne(ctx, freshClient, conn, local, { caCert, spare });
    } finally {
      live.delete(local);
    }
  }, {
    onAcceptError: (err) => ctx.stderr.writeln(`hoop: accept failed: ${describeNetError(err)}`),
  });
  const stop = new AbortController();
  void waitForShutdownSignal(stop.signal).then(() => {
    stop.abort();
    loop.close();
  });
  await loop.done;
  spare.close();
  for (const c of live) closeQuietly(c);
  return 0;
}

/** The one stderr line for a local connection the gateway would not open. */
function refusalLine(ctx: Context, name: string, err: unknown): string {
  const message = err instanceof HoopError ? err.message : String(err);
  if (!(err instanceof HoopError) || err.code !== "unauthenticated") return `hoop: ${message}`;
  // A process's environment cannot change: only the config file can bring a new token.
  if (ctx.env("HOOP_TOKEN")) {
    return `hoop: ${message}: HOOP_TOKEN holds the token, so restart hoop connect with a new one`;
  }
  return `hoop: ${message}: run "hoop login" and connect again ` +
    `(this hoop connect to "${name}" uses the new login without a restart)`;
}

async function relayOne(
  ctx: Context,
  freshClient: () => Promise<ApiClient>,
  conn: Connection,
  local: Deno.TcpConn,
  dial: { caCert: string | undefined; spare: SpareConnection },
): Promise<void> {
  // PostgreSQL clients ask for encryption first; the local hop answers "N" itself
  // while the session opens, saving a round trip through gateway and agent.
  const startup = conn.type === "postgres" ? settle(negotiateStartup(local)) : undefined;
  let remote: Deno.Conn;
  let api: ApiClient | undefined;
  try {
    // A flood of client connections opens sessions a few at a time, not all at once:
    // the gateway bounds how many a user may have waiting (and each open costs an
    // API connection), so a burst queues here instead of being refused there.
    remote = await OPENING.run(async () => {
      api = await freshClient();
      return (await openSession(api, { connection: conn.name, verb: "connect" }, dial)).conn;
    });
  } catch (err) {
    const message = err instanceof HoopError ? err.message : String(err);
    await ctx.stderr.writeln(refusalLine(ctx, conn.name, err));
    const first = await startup;
    if (first?.ok && first.value?.packet.kind === "startup") {
      await writeAll(local, encodeErrorResponse("FATAL", "08006", message)).catch(() => {});
    }
    if (conn.type === "mysql") {
      // A MySQL client waits for the server's greeting: an ERR in its place is its error line.
      const denied = err instanceof HoopError &&
        (err.code === "permission_denied" || err.code === "unauthenticated");
      const packet = encodeErr({
        code: denied ? ErrorCode.ACCESS_DENIED : ErrorCode.HANDSHAKE,
        sqlstate: denied ? "28000" : "08S01",
        message: `hoop: ${message}`,
      });
      await writeAll(local, encodePacket(0, packet)).catch(() => {});
    }
    closeQuietly(local);
    return;
  } finally {
    api?.close();
  }
  if (startup) {
    const first = await startup;
    // Forwarded as the client sent it: the agent answers the startup, not this hop.
    const sent = first.ok && first.value
      ? await writeAll(remote, first.value.raw).then(() => true, () => false)
      : false;
    if (!sent) {
      closeQuietly(local);
      closeQuietly(remote);
      return;
    }
  }
  await splice(local, remote);
}

function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error) => ({ ok: false as const, error }),
  );
}

/** An interactive console on a command connection. */
async function runConsole(
  ctx: Context,
  api: ApiClient,
  name: string,
  caCert: string | undefined,
): Promise<number> {
  const size = terminalSize();
  const { conn } = await openSession(api, {
    connection: name,
    verb: "console",
    cols: size.cols,
    rows: size.rows,
  }, { caCert });
  const restore = enterRawMode();
  const stopResize = onResize(({ cols, rows }) => {
    void writeFrame(conn, FrameType.RESIZE, resizePayload(cols, rows)).catch(() => {});
  });
  let exitCode: number | undefined;
  let errorText: string | undefined;
  // Whether the program left the cursor mid-line (a prompt): our own message then starts a new one.
  let midLine = false;
  // Piped input ends with nothing the remote terminal understands: type its Ctrl-D. The
  // keys still belong to the terminal, so STDIN_EOF follows the last of them.
  const typist = ctx.isTerminal ? undefined : new EndOfInputTypist(
    (bytes) => writeFrame(conn, FrameType.STDIN, bytes),
    () => writeFrame(conn, FrameType.STDIN_EOF),
  );
  // Keystrokes (Ctrl-C included, as byte 0x03 in raw mode) go to the remote terminal.
  const input = (async () => {
    try {
      let last = 0x0a;
      for await (const chunk of ctx.stdin.readable) {
        await writeFrame(conn, FrameType.STDIN, chunk);
        if (chunk.length) last = chunk[chunk.length - 1];
      }
      if (typist) await typist.inputEnded(last !== 0x0a && last !== 0x0d);
      else await writeFrame(conn, FrameType.STDIN_EOF);
    } catch {
      // The session ended while we were writing.
    }
  })();
  try {
    const reader = new FrameReader(conn);
    for (;;) {
      const f = await reader.next();
      if (!f) break;
      if (f.type === FrameType.STDOUT || f.type === FrameType.STDERR) {
        await ctx.stdout.write(f.payload);
        typist?.output();
        if (f.payload.length) midLine = f.payload[f.payload.length - 1] !== 0x0a;
      } else if (f.type === FrameType.ERROR) errorText = new TextDecoder().decode(f.payload);
      else if (f.type === FrameType.EXIT) {
        exitCode = parseExit(f.payload);
        break;
      }
    }
  } catch (err) {
    errorText ??= `the session broke: ${describeNetError(err)}`;
  } finally {
    typist?.close();
    stopResize();
    restore();
    closeQuietly(conn);
  }
  void input;
  if ((errorText || exitCode === undefined) && midLine) await ctx.stderr.write("\r\n");
  if (errorText) await ctx.stderr.writeln(`hoop: ${errorText}`);
  if (exitCode === undefined) {
    throw new HoopError(
      "unavailable",
      `Console on "${name}" ended without an exit code: the session was cut`,
    );
  }
  return exitCode;
}

/** Validate a `host:port` flag for tcp connections. */
export function tcpTarget(text: string): { host: string; port: string } {
  try {
    const { hostname, port } = parseHostPort(text, { what: "TCP target" });
    return { host: hostname, port: String(port) };
  } catch (err) {
    if (err instanceof HoopError) throw invalidArgument(err.message);
    throw err;
  }
}

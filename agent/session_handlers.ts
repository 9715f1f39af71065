/**
 * What the agent does for one SESSION_OPEN: reach the resource, dial the data
 * port, and serve the session (raw bytes for tcp and postgres, frames for
 * commands). Failures before the data connection is up are reported to the
 * gateway as SESSION_FAILED so the client reads one clear line.
 *
 * @module
 */
import { closeQuietly } from "../proto/bytes.ts";
import { exitPayload, FrameReader, FrameType, parseResize, writeFrame } from "../proto/frames.ts";
import type { Logger } from "../proto/log.ts";
import { describeNetError } from "../proto/net_error.ts";
import { splice } from "../proto/splice.ts";
import { splitCommandLine } from "../proto/command_line.ts";
import { runCommand } from "./command_runner.ts";
import { type DataTarget, dialData } from "./data_dial.ts";
import type { WarmPool } from "../proto/warm_pool.ts";
import { servePostgres } from "./postgres/mod.ts";
import { serveMysql } from "./mysql/mod.ts";
import { PTY_SUPPORTED, spawnPty } from "./pty.ts";

/** A session the gateway asked this agent to open. */
export interface SessionRequest {
  sid: string;
  ticket: string;
  connection: string;
  type: "postgres" | "mysql" | "tcp" | "command";
  verb: "connect" | "exec" | "console";
  cols: number;
  rows: number;
  config: Record<string, string>;
}

/** Context the handlers need. */
export interface SessionContext {
  data: DataTarget;
  /** This control stream's warm data connections, when the gateway offers them. */
  warm?: WarmPool;
  log: Logger;
  /** Report a failure before the data connection is up. */
  fail(sid: string, message: string): void;
  /** Register the session's sockets so revocation and shutdown can cut them. */
  track(sid: string, close: () => void): () => void;
}

/** After SIGTERM, a command whose client went away gets this long before SIGKILL. */
const ORPHAN_KILL_GRACE_MS = 5_000;

/** Bytes read from a process per frame. */
const READ_CHUNK_BYTES = 64 * 1024;

/** Serve one session; never throws (errors are reported or logged). */
export async function serveSession(ctx: SessionContext, req: SessionRequest): Promise<void> {
  const log = ctx.log.with({ sid: req.sid, conn: req.connection });
  try {
    switch (req.type) {
      case "tcp":
        return await serveTcp(ctx, req, log);
      case "postgres":
        return await serveDatabaseSession(ctx, req, log, servePostgres);
      case "mysql":
        return await serveDatabaseSession(ctx, req, log, serveMysql);
      case "command":
        return await serveCommand(ctx, req, log);
      default:
        ctx.fail(req.sid, `the agent does not know connection type "${req.type}"`);
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.warn("session failed", { err: message });
    ctx.fail(req.sid, `connection ${req.connection}: ${message}`);
  }
}

async function serveTcp(ctx: SessionContext, req: SessionRequest, log: Logger): Promise<void> {
  const host = req.config.host;
  const port = Number(req.config.port);
  let target: Deno.TcpConn;
  try {
    target = await Deno.connect({ hostname: host, port });
  } catch (err) {
    ctx.fail(
      req.sid,
      `connection ${req.connection}: agent could not reach ${host}:${port}: ${
        describeNetError(err)
      }`,
    );
    return;
  }
  target.setNoDelay(true);
  let data: Deno.Conn;
  try {
    data = await dialData(ctx.data, req.ticket, ctx.warm);
  } catch (err) {
    target.close();
    throw err;
  }
  const untrack = ctx.track(req.sid, () => {
    closeQuietly(data);
    closeQuietly(target);
  });
  try {
    const r = await splice(data, target);
    log.debug("tcp session done", { bytes_in: r.a2b, bytes_out: r.b2a });
  } finally {
    untrack();
  }
}

/**
 * A database session (PostgreSQL or MySQL): the agent answers the client's
 * login itself and logs in to the resource with the connection's URI.
 */
async function serveDatabaseSession(
  ctx: SessionContext,
  req: SessionRequest,
  log: Logger,
  serve: typeof servePostgres | typeof serveMysql,
): Promise<void> {
  let untrack = () => {};
  // Handed over pairing: the resource's connection opens meanwhile (see servePostgres).
  const data = dialData(ctx.data, req.ticket, ctx.warm).then((conn) => {
    untrack = ctx.track(req.sid, () => closeQuietly(conn));
    return conn;
  });
  try {
    await serve(data, req.config.uri, {
      log,
      splice: (a, b) => splice(a, b),
      connectionName: req.connection,
    });
  } finally {
    untrack();
    await data.then(closeQuietly, () => {});
  }
}

function commandArgv(req: SessionRequest): string[] {
  const text = req.config.command?.trim();
  if (text) return splitCommandLine(text);
  return [Deno.env.get("SHELL") || "/bin/sh"];
}

async function serveCommand(ctx: SessionContext, req: SessionRequest, log: Logger): Promise<void> {
  const argv = commandArgv(req);
  if (req.verb === "console" && !PTY_SUPPORTED) {
    ctx.fail(
      req.sid,
      `connection ${req.connection}: this agent's platform has no pseudo-terminal support`,
    );
    return;
  }
  const data = await dialData(ctx.data, req.ticket, ctx.warm);
  const untrack = ctx.track(req.sid, () => closeQuietly(data));
  try {
    if (req.verb === "console") await runConsole(data, argv, req, log);
    else await runExec(data, argv, log);
  } finally {
    untrack();
    closeQuietly(data);
  }
}

function consoleEnv(): Record<string, string> {
  return { TERM: Deno.env.get("TERM") || "xterm-256color" };
}

async function runConsole(
  data: Deno.Conn,
  argv: string[],
  req: SessionRequest,
  log: Logger,
): Promise<void> {
  let pty;
  try {
    pty = spawnPty(argv, { cols: req.cols, rows: req.rows, env: consoleEnv() });
  } catch (err) {
    await writeFrame(
      data,
      FrameType.ERROR,
      new TextEncoder().encode(`cannot start "${argv[0]}": ${describeNetError(err)}`),
    );
    await writeFrame(data, FrameType.EXIT, exitPayload(127));
    return;
  }
  const p = pty;
  const input = (async () => {
    const reader = new FrameReader(data);
    try {
      for (;;) {
        const f = await reader.next();
        if (!f) break;
        if (f.type === FrameType.STDIN) await p.write(f.payload);
        else if (f.type === FrameType.RESIZE) {
          const { cols, rows } = parseResize(f.payload);
          p.resize(cols, rows);
        }
      }
    } catch (err) {
      // A malformed frame or a dropped connection ends this console, nothing more.
      log.debug("console input ended", { err });
    }
    // The client went away: end the program as a terminal hang-up would.
    try {
      p.kill("SIGHUP");
    } catch {
      // Already gone.
    }
  })();
  const buf = new Uint8Array(READ_CHUNK_BYTES);
  let clientGone = false;
  for (;;) {
    const n = await p.read(buf);
    if (n === null) break;
    if (clientGone) continue;
    try {
      await writeFrame(data, FrameType.STDOUT, buf.subarray(0, n));
    } catch {
      // Nobody is watching: hang up as a closed terminal would, and drain to the end.
      clientGone = true;
      try {
        p.kill("SIGHUP");
      } catch {
        // Already gone.
      }
    }
  }
  const status = await p.status;
  p.close();
  log.debug("console exited", { code: status.code });
  if (!clientGone) {
    await writeFrame(data, FrameType.EXIT, exitPayload(status.code)).catch(() => {});
    await data.closeWrite().catch(() => {});
  }
  await input.catch(() => {});
}

async function runExec(data: Deno.Conn, argv: string[], log: Logger): Promise<void> {
  let proc;
  try {
    proc = runCommand(argv, {});
  } catch (err) {
    const msg = err instanceof Deno.errors.NotFound
      ? `command not found: ${argv[0]}`
      : `cannot start "${argv[0]}": ${describeNetError(err)}`;
    await writeFrame(data, FrameType.STDERR, new TextEncoder().encode(msg + "\n"));
    await writeFrame(data, FrameType.EXIT, exitPayload(127));
    return;
  }
  const p = proc;
  const stdin = p.stdin.getWriter();
  let exited = false;
  let stopping = false;
  // The client keeps its side open until EXIT; its end (or a cut by the gateway)
  // before the command exits means nobody is listening: stop the command, once
  // (every failed write of its remaining output lands here too).
  const stopOrphan = () => {
    if (exited || stopping) return;
    stopping = true;
    log.info("exec client went away: stopping the command");
    try {
      p.kill("SIGTERM");
    } catch {
      return;
    }
    setTimeout(() => {
      try {
        if (!exited) p.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }, ORPHAN_KILL_GRACE_MS);
  };
  const input = (async () => {
    const reader = new FrameReader(data);
    let stdinOpen = true;
    try {
      for (;;) {
        const f = await reader.next();
        if (!f) break;
        if (f.type === FrameType.STDIN && stdinOpen) {
          await stdin.write(f.payload.slice()).catch(() => (stdinOpen = false));
        } else if (f.type === FrameType.STDIN_EOF && stdinOpen) {
          stdinOpen = false;
          await stdin.close().catch(() => {});
        }
      }
    } catch {
      // The data connection dropped.
    }
    stopOrphan();
  })();
  let writing = Promise.resolve();
  const pump = async (stream: ReadableStream<Uint8Array>, type: number) => {
    for await (const chunk of stream) {
      writing = writing.then(() => writeFrame(data, type, chunk));
      try {
        await writing;
      } catch {
        // The client is gone: keep draining so the command is not blocked on a full pipe.
        stopOrphan();
        writing = Promise.resolve();
      }
    }
  };
  const [status] = await Promise.all([
    p.status,
    pump(p.stdout, FrameType.STDOUT),
    pump(p.stderr, FrameType.STDERR),
  ]);
  exited = true;
  log.debug("exec exited", { code: status.code });
  try {
    await writeFrame(data, FrameType.EXIT, exitPayload(status.code));
    await data.closeWrite().catch(() => {});
  } catch {
    return;
  }
  await Promise.race([input, new Promise((r) => setTimeout(r, 1000))]);
}

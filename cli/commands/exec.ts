import { HoopError } from "../../proto/errors.ts";
import { FrameReader, FrameType, parseExit, writeFrame } from "../../proto/frames.ts";
import { describeNetError } from "../../proto/net_error.ts";
import { loadTlsCa } from "../api_client.ts";
import { type Command, stringFlag, UsageError } from "../command.ts";
import type { Context } from "../context.ts";
import { openSession } from "../data_client.ts";
import { PgQueryError, simpleQuery } from "../../proto/pgwire/mod.ts";
import { MysqlQueryError, mysqlTextQuery } from "../../proto/mysql/mod.ts";
import { fromMysqlResults, renderAligned, renderCsv, renderJson } from "../pg_client.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor } from "./_api.ts";
import { fetchConnection } from "./connect.ts";

/** Exit code when hoop itself fails (not the remote command), as ssh does. */
export const EXEC_FAILURE_EXIT = 255;

/** Largest input `hoop exec` sends in one frame. */
const INPUT_CHUNK_BYTES = 64 * 1024;

const OUTPUTS = ["table", "json", "csv"] as const;

/** `hoop exec NAME`: run a command connection once, or SQL on a postgres connection. */
export const execCommand: Command = {
  path: ["exec"],
  summary: "Run a command connection once, or SQL on a postgres or mysql connection",
  usage: "hoop exec NAME [-i INPUT | -f FILE] [-o table|json|csv]",
  help: `For command connections, runs the command once on the agent with the input on its
standard input; its stdout and stderr stay separate, and hoop exits with its exit code.
For postgres and mysql connections, runs the input as SQL through the agent and prints the
rows (mysql: several statements in one input are allowed; an error shows the server's code).

The input comes from -i, from -f, or from standard input when it is not a terminal.
Exit codes: the remote command's; 1 for a failed SQL statement; 2 for usage errors;
255 when hoop itself fails (gateway unreachable, unknown connection, access denied, agent
offline, session cut).

Options:
  -i, --input TEXT   the input (a script, or SQL)
  -f, --file FILE    read the input from FILE
  -o, --output FMT   postgres results as table (default), json or csv; json types the
                     values: int2/int4/int8, float4/float8 and numeric as numbers (int8
                     beyond 2^53 and numeric past 15 significant digits stay strings, so no
                     digit is lost; so do NaN and Infinity), bool as true/false, json/jsonb parsed,
                     NULL as null, other types as their text; mysql: integer types, DECIMAL,
                     FLOAT/DOUBLE typed the same way, JSON parsed (MySQL; MariaDB sends it as
                     text), binary columns (VARBINARY, BLOB, BIT) as 0x hex in every format
${API_URL_HELP}

Examples:
  hoop exec pgdemo -i 'select now()'
  echo 'puts User.count' | hoop exec railsc
  hoop exec pgdemo -f report.sql -o csv > report.csv`,
  options: {
    input: { type: "string", short: "i" },
    file: { type: "string", short: "f" },
    output: { type: "string", short: "o" },
    ...API_URL_OPTION,
  },
  allowPositionals: 1,
  async run(ctx, args) {
    const name = args.positionals[0];
    if (!name) throw new UsageError("missing argument NAME");
    const inputText = stringFlag(args.values, "input");
    const file = stringFlag(args.values, "file");
    if (inputText !== undefined && file !== undefined) {
      throw new UsageError("use either -i or -f, not both");
    }
    const output = stringFlag(args.values, "output") ?? "table";
    if (!(OUTPUTS as readonly string[]).includes(output)) {
      throw new UsageError(`unknown output "${output}": use ${OUTPUTS.join(", ")}`);
    }
    try {
      const api = await clientFor(ctx, args.values);
      const conn = await fetchConnection(api, name);
      if (conn.type === "tcp") {
        throw new UsageError(`connection "${name}" is of type tcp: use "hoop connect ${name}"`);
      }
      const input = await readInput(ctx, inputText, file);
      const caCert = await loadTlsCa(ctx);
      const { conn: data } = await openSession(api, { connection: name, verb: "exec" }, { caCert });
      try {
        if (conn.type === "postgres") return await runSql(ctx, data, input, output);
        if (conn.type === "mysql") return await runMysql(ctx, data, input, output);
        return await runRemote(ctx, data, input);
      } finally {
        try {
          data.close();
        } catch {
          // Already closed.
        }
      }
    } catch (err) {
      if (
        err instanceof UsageError || err instanceof PgQueryError || err instanceof MysqlQueryError
      ) throw err;
      if (err instanceof HoopError) {
        await ctx.stderr.writeln(`hoop: ${err.message}`);
        if (err.hint) await ctx.stderr.writeln(`Hint: ${err.hint}`);
        return EXEC_FAILURE_EXIT;
      }
      throw err;
    }
  },
};

async function readInput(ctx: Context, text: string | undefined, file: string | undefined) {
  if (text !== undefined) return new TextEncoder().encode(text);
  if (file !== undefined) {
    try {
      return await Deno.readFile(file);
    } catch (err) {
      throw new UsageError(`cannot read "${file}": ${describeNetError(err)}`);
    }
  }
  // A person at a terminal did not pipe anything: no input.
  if (ctx.isTerminal) return undefined;
  return await ctx.stdin.readAll();
}

async function runSql(
  ctx: Context,
  data: Deno.Conn,
  input: Uint8Array | undefined,
  output: string,
): Promise<number> {
  const sql = input ? new TextDecoder().decode(input).trim() : "";
  if (!sql) throw new UsageError("no SQL given: use -i, -f or standard input");
  try {
    const results = await simpleQuery(data, sql);
    await ctx.stdout.write(render(results, output));
    return 0;
  } catch (err) {
    if (err instanceof PgQueryError && err.results.length) {
      await ctx.stdout.write(render(err.results, output));
    }
    throw err;
  }
}

async function runMysql(
  ctx: Context,
  data: Deno.Conn,
  input: Uint8Array | undefined,
  output: string,
): Promise<number> {
  const sql = input ? new TextDecoder().decode(input).trim() : "";
  if (!sql) throw new UsageError("no SQL given: use -i, -f or standard input");
  try {
    const results = await mysqlTextQuery(data, sql);
    await ctx.stdout.write(render(fromMysqlResults(results), output));
    return 0;
  } catch (err) {
    if (err instanceof MysqlQueryError && err.results.length) {
      await ctx.stdout.write(render(fromMysqlResults(err.results), output));
    }
    throw err;
  }
}

function render(results: Parameters<typeof renderAligned>[0], output: string): string {
  return output === "json"
    ? renderJson(results)
    : output === "csv"
    ? renderCsv(results)
    : renderAligned(results);
}

async function runRemote(
  ctx: Context,
  data: Deno.Conn,
  input: Uint8Array | undefined,
): Promise<number> {
  const sending = (async () => {
    if (input) {
      for (let off = 0; off < input.length; off += INPUT_CHUNK_BYTES) {
        await writeFrame(data, FrameType.STDIN, input.subarray(off, off + INPUT_CHUNK_BYTES));
      }
    }
    await writeFrame(data, FrameType.STDIN_EOF);
  })().catch(() => {
    // The command exited before reading all of its input.
  });
  const reader = new FrameReader(data);
  let exitCode: number | undefined;
  let errorText: string | undefined;
  try {
    for (;;) {
      const f = await reader.next();
      if (!f) break;
      if (f.type === FrameType.STDOUT) await ctx.stdout.write(f.payload);
      else if (f.type === FrameType.STDERR) await ctx.stderr.write(f.payload);
      else if (f.type === FrameType.ERROR) errorText = new TextDecoder().decode(f.payload);
      else if (f.type === FrameType.EXIT) {
        exitCode = parseExit(f.payload);
        break;
      }
    }
  } catch (err) {
    errorText ??= `the session broke: ${describeNetError(err)}`;
  }
  await sending;
  if (exitCode === undefined) {
    throw new HoopError(
      "unavailable",
      errorText ?? "the session ended without an exit code: the agent or gateway went away",
    );
  }
  if (errorText) await ctx.stderr.writeln(`hoop: ${errorText}`);
  return exitCode;
}

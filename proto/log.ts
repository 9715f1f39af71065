/**
 * The one logger of hoop's library code (gateway, agent, proto). Lines go to
 * stderr, as text (`2026-11-28T21:00:00.000Z INFO agent online agent=dev`) or,
 * with `HOOP_LOG_FORMAT=json`, one JSON object per line. `HOOP_LOG_LEVEL` is
 * one of debug, info, warn, error (default info).
 *
 * Fields are fixed keys (`sid`, `agent`, `conn`, `user`, ...). Values under a
 * key that looks secret are replaced, and DSN or URI passwords are redacted, so
 * a careless call site cannot print a key, token or password.
 *
 * @module
 */
import { escapeControl } from "./printable.ts";
import { redact } from "./redact.ts";

/** Log levels, in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured fields of a log line. */
export type LogFields = Record<string, unknown>;

/** Keys whose values are never printed. */
const SECRET_KEY = /(pass(word)?|secret|token|key|authorization|ticket|dsn)$/i;

// Callers of the logger often redact the text they log too: one function for both.
export { redact };

// Text lines escape control characters so that a peer-supplied value (an
// agent's hostname, an error message) can neither forge a log line nor send
// escape sequences to an operator's terminal.
function formatValue(key: string, value: unknown): string {
  if (SECRET_KEY.test(key)) return "***";
  if (value instanceof Error) return escapeControl(redact(value.message));
  if (typeof value === "string") return escapeControl(redact(value));
  if (value === undefined) return "-";
  return redact(JSON.stringify(value) ?? String(value));
}

/** Where log lines are written; tests may swap it. */
export interface LogSink {
  write(line: string): void;
}

const encoder = new TextEncoder();
const stderrSink: LogSink = {
  write(line) {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  },
};

/** A logger with fixed fields bound in. */
export class Logger {
  #fields: LogFields;
  #sink: LogSink;
  #level: LogLevel;
  #json: boolean;

  constructor(
    fields: LogFields = {},
    opts: { sink?: LogSink; level?: LogLevel; json?: boolean } = {},
  ) {
    this.#fields = fields;
    this.#sink = opts.sink ?? stderrSink;
    this.#level = opts.level ?? levelFromEnv();
    this.#json = opts.json ?? envGet("HOOP_LOG_FORMAT") === "json";
  }

  /** A logger that adds `fields` to every line. */
  with(fields: LogFields): Logger {
    return new Logger({ ...this.#fields, ...fields }, {
      sink: this.#sink,
      level: this.#level,
      json: this.#json,
    });
  }

  /** True when lines of `level` are written. */
  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= LEVEL_RANK[this.#level];
  }

  debug(msg: string, fields?: LogFields): void {
    this.#log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#log("error", msg, fields);
  }

  #log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const all = { ...this.#fields, ...fields };
    const time = new Date().toISOString();
    if (this.#json) {
      const obj: Record<string, unknown> = { time, level, msg: redact(msg) };
      for (const [k, v] of Object.entries(all)) {
        if (v === undefined) continue;
        obj[k] = SECRET_KEY.test(k)
          ? "***"
          : v instanceof Error
          ? redact(v.message)
          : typeof v === "string"
          ? redact(v)
          : v;
      }
      this.#sink.write(JSON.stringify(obj));
      return;
    }
    let line = `${time} ${level.toUpperCase()} ${escapeControl(redact(msg))}`;
    for (const [k, v] of Object.entries(all)) {
      if (v === undefined) continue;
      line += ` ${k}=${formatValue(k, v)}`;
    }
    this.#sink.write(line);
  }
}

function envGet(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    // Without --allow-env the defaults apply.
    return undefined;
  }
}

function levelFromEnv(): LogLevel {
  const v = envGet("HOOP_LOG_LEVEL")?.toLowerCase();
  return v === "debug" || v === "info" || v === "warn" || v === "error" ? v : "info";
}

/** The process-wide root logger. */
export const log: Logger = new Logger();

/**
 * The CLI's saved settings, `$HOOP_HOME/config.json` (mode 0600 in a 0700
 * directory, since it holds a bearer token), and the resolution of where the
 * gateway is: flag, then environment, then config file, then the default.
 *
 * @module
 */

import { join } from "node:path";
import { HoopError } from "../proto/errors.ts";
import type { Context } from "./context.ts";

/** The gateway API a fresh install talks to. */
export const DEFAULT_API_URL = "http://127.0.0.1:8009";
/** The gateway gRPC address a fresh install talks to. */
export const DEFAULT_GRPC_URL = "grpc://127.0.0.1:8010";

/** The fields of `config.json`; all optional, snake_case as on disk. */
export interface Config {
  api_url?: string;
  grpc_url?: string;
  token?: string;
  email?: string;
}

/** The path of the config file in `ctx.home`. */
export function configPath(ctx: Pick<Context, "home">): string {
  return join(ctx.home, "config.json");
}

/** Read the config file; a missing file is an empty config. */
export async function loadConfig(ctx: Pick<Context, "home">): Promise<Config> {
  const path = configPath(ctx);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw new HoopError("failed_precondition", `Cannot read config "${path}": ${errText(err)}`, {
      cause: err,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HoopError("failed_precondition", `Cannot read config "${path}": not valid JSON`, {
      cause: err,
      hint: `fix or remove the file, then run "hoop login"`,
    });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new HoopError("failed_precondition", `Cannot read config "${path}": not a JSON object`, {
      hint: `fix or remove the file, then run "hoop login"`,
    });
  }
  const config: Config = {};
  for (const key of ["api_url", "grpc_url", "token", "email"] as const) {
    const value = (parsed as Record<string, unknown>)[key];
    if (typeof value === "string" && value !== "") config[key] = value;
  }
  return config;
}

/**
 * Write the config file with mode 0600 (directory 0700). The file is written
 * beside its final name and renamed, so a crash never leaves half a token.
 */
export async function saveConfig(ctx: Pick<Context, "home">, config: Config): Promise<void> {
  const path = configPath(ctx);
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    await Deno.mkdir(ctx.home, { recursive: true, mode: 0o700 });
    if (Deno.build.os !== "windows") await Deno.chmod(ctx.home, 0o700);
    const clean: Config = {};
    for (const key of ["api_url", "grpc_url", "token", "email"] as const) {
      if (config[key]) clean[key] = config[key];
    }
    await Deno.writeTextFile(tmp, JSON.stringify(clean, null, 2) + "\n", { mode: 0o600 });
    // The umask may have narrowed the mode, never widened it; chmod makes it exact.
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw new HoopError("failed_precondition", `Cannot write config "${path}": ${errText(err)}`, {
      cause: err,
    });
  }
}

/** Where a setting came from, for diagnostics: a flag, a variable, the config file or the default. */
export type SettingSource = string;

/** The resolved gateway API endpoint and credential. */
export interface ResolvedApi {
  apiUrl: string;
  /** The bearer token, when there is one. */
  token?: string;
  /** Where `apiUrl` came from: `--api-url`, `HOOP_API_URL`, the config path, or `default`. */
  source: SettingSource;
}

/** Flags that override the environment and the config file. */
export interface ApiFlags {
  apiUrl?: string;
  token?: string;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

/**
 * Find the gateway API: `--api-url` > `HOOP_API_URL` > config `api_url` > the
 * default, and the token: flag > `HOOP_TOKEN` > config `token`.
 *
 * The saved token is only sent to the gateway it was issued by (the config's
 * `api_url`), so pointing `--api-url` at another host never leaks it.
 */
export async function resolveApi(ctx: Context, flags: ApiFlags = {}): Promise<ResolvedApi> {
  const config = await loadConfig(ctx);
  let apiUrl: string;
  let source: SettingSource;
  if (flags.apiUrl) {
    apiUrl = flags.apiUrl;
    source = "--api-url";
  } else if (ctx.env("HOOP_API_URL")) {
    apiUrl = ctx.env("HOOP_API_URL")!;
    source = "HOOP_API_URL";
  } else if (config.api_url) {
    apiUrl = config.api_url;
    source = configPath(ctx);
  } else {
    apiUrl = DEFAULT_API_URL;
    source = "default";
  }
  apiUrl = trimSlash(apiUrl);
  let token = flags.token || ctx.env("HOOP_TOKEN") || undefined;
  if (!token && config.token) {
    const issuer = config.api_url ? trimSlash(config.api_url) : DEFAULT_API_URL;
    if (issuer === apiUrl) token = config.token;
  }
  return { apiUrl, token, source };
}

/** The gateway gRPC URL: flag > `HOOP_GRPC_URL` > config `grpc_url` > the default. */
export async function resolveGrpcUrl(
  ctx: Context,
  flags: { grpcUrl?: string } = {},
): Promise<{ grpcUrl: string; source: SettingSource }> {
  if (flags.grpcUrl) return { grpcUrl: flags.grpcUrl, source: "--grpc-url" };
  const env = ctx.env("HOOP_GRPC_URL");
  if (env) return { grpcUrl: env, source: "HOOP_GRPC_URL" };
  const config = await loadConfig(ctx);
  if (config.grpc_url) return { grpcUrl: config.grpc_url, source: configPath(ctx) };
  return { grpcUrl: DEFAULT_GRPC_URL, source: "default" };
}

/** Describe a source for a message: `(from HOOP_API_URL)`, `(the default)`. */
export function describeSource(source: SettingSource): string {
  return source === "default" ? "(the default)" : `(from ${source})`;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

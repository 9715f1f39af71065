import { log } from "../../proto/log.ts";
import { installProcessGuard } from "../../proto/process_guard.ts";
import { invalidArgument } from "../../proto/errors.ts";
import { booleanFlag, type Command, type FlagValues, stringFlag } from "../command.ts";
import type { Context } from "../context.ts";
import { waitForShutdownSignal } from "./_signals.ts";

/** Flags of `hoop start gateway` and their environment twins. */
const SETTINGS = [
  ["grpc-listen", "HOOP_GRPC_LISTEN"],
  ["api-listen", "HOOP_API_LISTEN"],
  ["data-listen", "HOOP_DATA_LISTEN"],
  ["postgres-listen", "HOOP_POSTGRES_LISTEN"],
  ["data-dir", "HOOP_DATA_DIR"],
  ["database-url", "HOOP_DATABASE_URL"],
  ["grpc-url", "HOOP_GRPC_URL"],
  ["data-url", "HOOP_DATA_URL"],
  ["tls-cert", "HOOP_TLS_CERT"],
  ["tls-key", "HOOP_TLS_KEY"],
  ["public-url", "HOOP_PUBLIC_URL"],
  ["oidc-issuer", "HOOP_OIDC_ISSUER"],
  ["oidc-client-id", "HOOP_OIDC_CLIENT_ID"],
  ["oidc-client-secret-file", "HOOP_OIDC_CLIENT_SECRET_FILE"],
  ["oidc-groups-claim", "HOOP_OIDC_GROUPS_CLAIM"],
  ["oidc-admin-groups", "HOOP_OIDC_ADMIN_GROUPS"],
  ["oidc-recheck-interval", "HOOP_OIDC_RECHECK_INTERVAL"],
  ["auth-methods", "HOOP_AUTH_METHODS"],
  ["break-glass-admin", "HOOP_BREAK_GLASS_ADMIN"],
] as const;

/** Single sign-on settings from the flags, or `undefined` without --oidc-issuer. */
async function oidcOptions(
  ctx: Context,
  v: (flag: string, env: string) => string | undefined,
): Promise<
  | {
    issuer: URL;
    clientId: string;
    clientSecret: string;
    groupsClaim: string;
    adminGroups: string[];
    recheckIntervalMs?: number;
    publicUrl?: string;
  }
  | undefined
> {
  const issuerText = v("oidc-issuer", "HOOP_OIDC_ISSUER");
  if (!issuerText) return undefined;
  let issuer: URL;
  try {
    issuer = new URL(issuerText);
  } catch {
    throw invalidArgument(`Invalid --oidc-issuer "${issuerText}": not a URL`);
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(issuer.hostname);
  if (issuer.protocol !== "https:" && !(issuer.protocol === "http:" && loopback)) {
    throw invalidArgument(
      `Invalid --oidc-issuer "${issuerText}": use https:// (plain http only for a provider on this machine)`,
    );
  }
  const clientId = v("oidc-client-id", "HOOP_OIDC_CLIENT_ID");
  if (!clientId) {
    throw invalidArgument("--oidc-issuer needs --oidc-client-id (HOOP_OIDC_CLIENT_ID)");
  }
  const secretFile = v("oidc-client-secret-file", "HOOP_OIDC_CLIENT_SECRET_FILE");
  let clientSecret = ctx.env("HOOP_OIDC_CLIENT_SECRET") || undefined;
  if (secretFile) {
    clientSecret = (await readPem(secretFile, "the OIDC client secret file"))?.trim();
  }
  if (!clientSecret) {
    throw invalidArgument(
      "--oidc-issuer needs the client secret in HOOP_OIDC_CLIENT_SECRET or --oidc-client-secret-file",
      { hint: "the secret is never taken as a flag, so it stays out of process listings" },
    );
  }
  const publicUrl = v("public-url", "HOOP_PUBLIC_URL")?.replace(/\/+$/, "");
  if (publicUrl !== undefined && !/^https?:\/\/[^/]+$/.test(publicUrl)) {
    throw invalidArgument(
      `Invalid --public-url "${publicUrl}": use the scheme and host browsers reach the API on, like https://hoop.example.com`,
    );
  }
  const recheck = v("oidc-recheck-interval", "HOOP_OIDC_RECHECK_INTERVAL");
  return {
    issuer,
    clientId,
    clientSecret,
    groupsClaim: v("oidc-groups-claim", "HOOP_OIDC_GROUPS_CLAIM") ?? "groups",
    adminGroups: (v("oidc-admin-groups", "HOOP_OIDC_ADMIN_GROUPS") ?? "").split(",")
      .map((g) => g.trim()).filter(Boolean),
    recheckIntervalMs: recheck ? parseDuration(recheck, "--oidc-recheck-interval") : undefined,
    publicUrl,
  };
}

/** `--auth-methods password,oidc`. */
function authMethods(text: string | undefined, sso: boolean): ("password" | "oidc")[] {
  if (text === undefined) return sso ? ["password", "oidc"] : ["password"];
  const methods = text.split(",").map((m) => m.trim()).filter(Boolean);
  for (const m of methods) {
    if (m !== "password" && m !== "oidc") {
      throw invalidArgument(
        `Invalid --auth-methods "${text}": use password, oidc or password,oidc`,
      );
    }
  }
  if (methods.length === 0) throw invalidArgument("--auth-methods needs at least one method");
  if (methods.includes("oidc") && !sso) {
    throw invalidArgument("--auth-methods oidc needs --oidc-issuer");
  }
  return methods as ("password" | "oidc")[];
}

function setting(ctx: Context, values: FlagValues, flag: string, env: string): string | undefined {
  return stringFlag(values, flag) ?? (ctx.env(env) || undefined);
}

async function readPem(path: string | undefined, what: string): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw invalidArgument(`Cannot read ${what} "${path}": ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** An environment switch: `1`, `true` or `yes` turn it on; unset or anything else leaves it off. */
function envTrue(value: string | undefined): boolean {
  return ["1", "true", "yes"].includes((value ?? "").toLowerCase());
}

/** Parse `12h`, `30m`, `45s` or plain seconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) {
    throw invalidArgument(`Invalid ${what} "${text}": use a number with s, m, h or d, like 12h`);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? "s"]!;
  const ms = Number(m[1]) * unit;
  if (ms <= 0) throw invalidArgument(`Invalid ${what} "${text}": it must be positive`);
  return ms;
}

function parseBytes(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    throw invalidArgument(`Invalid ${what} "${text}": use a whole number of bytes`);
  }
  return n;
}

/** `hoop start gateway`: run the gateway until SIGINT or SIGTERM. */
export const startGatewayCommand: Command = {
  path: ["start", "gateway"],
  summary: "Run the gateway (gRPC, HTTP API and data port)",
  usage: "hoop start gateway [--grpc-listen ADDR] [--api-listen ADDR] [--data-listen ADDR] " +
    "[--data-dir DIR] [--tls-cert FILE --tls-key FILE]",
  help: `Runs the gateway in the foreground until SIGINT or SIGTERM. Every flag has an
environment twin; the flag wins.

Options:
  --grpc-listen ADDR   agents' control streams   (HOOP_GRPC_LISTEN, default 0.0.0.0:8010)
  --api-listen ADDR    HTTP JSON API             (HOOP_API_LISTEN, default 0.0.0.0:8009)
  --data-listen ADDR   data connections          (HOOP_DATA_LISTEN, default 0.0.0.0:8011)
  --postgres-listen ADDR  PostgreSQL clients straight to the gateway
                       (HOOP_POSTGRES_LISTEN, off by default; e.g. 0.0.0.0:15432);
                       with --tls-cert it speaks TLS and refuses passwords in clear
  --postgres-listen-insecure  take passwords over plain TCP on a TLS listener too
                       (HOOP_POSTGRES_LISTEN_INSECURE=1)
  --data-dir DIR       SQLite store, secret key  (HOOP_DATA_DIR, default ~/.hoop/gateway)
  --database-url URL   postgres://... store      (HOOP_DATABASE_URL, default embedded SQLite)
  --grpc-url URL       public gRPC URL in DSNs   (HOOP_GRPC_URL, default grpc://127.0.0.1:PORT)
  --data-url HOST:PORT public data address       (HOOP_DATA_URL, default the listen address)
  --tls-cert FILE      PEM certificate           (HOOP_TLS_CERT)
  --tls-key FILE       PEM private key           (HOOP_TLS_KEY)
  --public-url URL     where browsers reach the API (HOOP_PUBLIC_URL; default the API's
                       listen address); single sign-on redirects to URL/api/oidc/callback

Single sign-on (README "Single sign-on"):
  --oidc-issuer URL    the OpenID provider       (HOOP_OIDC_ISSUER; https, or http on loopback)
  --oidc-client-id ID  this gateway's client     (HOOP_OIDC_CLIENT_ID)
  --oidc-client-secret-file FILE  its secret     (HOOP_OIDC_CLIENT_SECRET_FILE, or the secret
                       itself in HOOP_OIDC_CLIENT_SECRET)
  --oidc-groups-claim NAME  ID token claim with the groups (HOOP_OIDC_GROUPS_CLAIM, default groups)
  --oidc-admin-groups A,B   members are hoop admins (HOOP_OIDC_ADMIN_GROUPS)
  --oidc-recheck-interval D ask the provider again this often whether each login stands
                       (HOOP_OIDC_RECHECK_INTERVAL, default 15m); a refusal revokes its token
  --auth-methods LIST  password, oidc or password,oidc (HOOP_AUTH_METHODS; default password,
                       plus oidc when configured)
  --break-glass-admin EMAIL  the one local account that keeps its password when
                       --auth-methods is oidc (HOOP_BREAK_GLASS_ADMIN)

Environment only:
  HOOP_SECRET_KEY      base64 32-byte key sealing secrets (default: DATA_DIR/secret.key)
  HOOP_TOKEN_TTL       token lifetime, like 12h (default 12h)
  HOOP_AUDIT_MAX_BYTES recorded input/output per session (default 1048576)
  HOOP_AUDIT_SPOOL_MAX_BYTES  bound of the local audit spool used while the store is down
                       (default 268435456; at the bound, sessions end and new ones are refused)
  HOOP_LOG_LEVEL       debug, info, warn, error;  HOOP_LOG_FORMAT=json for JSON lines

Examples:
  hoop start gateway
  hoop start gateway --data-dir /var/lib/hoop --tls-cert cert.pem --tls-key key.pem
  HOOP_DATABASE_URL=postgres://hoop:secret@db:5432/hoop hoop start gateway`,
  options: {
    ...Object.fromEntries(SETTINGS.map(([flag]) => [flag, { type: "string" as const }])),
    "postgres-listen-insecure": { type: "boolean" },
  },
  async run(ctx, args) {
    const v = (flag: string, env: string) => setting(ctx, args.values, flag, env);
    const ttl = ctx.env("HOOP_TOKEN_TTL");
    const audit = ctx.env("HOOP_AUDIT_MAX_BYTES");
    const spoolMax = ctx.env("HOOP_AUDIT_SPOOL_MAX_BYTES");
    const oidc = await oidcOptions(ctx, v);
    const methods = authMethods(v("auth-methods", "HOOP_AUTH_METHODS"), oidc !== undefined);
    // Loaded here, not at the top: grpc-js costs every other command ~0.3 s of start-up.
    const { startGateway } = await import("../../gateway/mod.ts");
    installProcessGuard(log.with({ component: "gateway" }));
    const gateway = await startGateway({
      grpcListen: v("grpc-listen", "HOOP_GRPC_LISTEN"),
      apiListen: v("api-listen", "HOOP_API_LISTEN"),
      dataListen: v("data-listen", "HOOP_DATA_LISTEN"),
      postgresListen: v("postgres-listen", "HOOP_POSTGRES_LISTEN"),
      postgresListenInsecure: booleanFlag(args.values, "postgres-listen-insecure") ||
        envTrue(ctx.env("HOOP_POSTGRES_LISTEN_INSECURE")),
      dataDir: v("data-dir", "HOOP_DATA_DIR"),
      databaseUrl: v("database-url", "HOOP_DATABASE_URL"),
      grpcUrl: v("grpc-url", "HOOP_GRPC_URL"),
      dataUrl: v("data-url", "HOOP_DATA_URL"),
      tlsCert: await readPem(v("tls-cert", "HOOP_TLS_CERT"), "the TLS certificate"),
      tlsKey: await readPem(v("tls-key", "HOOP_TLS_KEY"), "the TLS key"),
      secretKey: ctx.env("HOOP_SECRET_KEY") || undefined,
      tokenTtlMs: ttl ? parseDuration(ttl, "HOOP_TOKEN_TTL") : undefined,
      auditMaxBytes: audit ? parseBytes(audit, "HOOP_AUDIT_MAX_BYTES") : undefined,
      auditSpoolMaxBytes: spoolMax ? parseBytes(spoolMax, "HOOP_AUDIT_SPOOL_MAX_BYTES") : undefined,
      oidc,
      authMethods: methods,
      breakGlassAdmin: v("break-glass-admin", "HOOP_BREAK_GLASS_ADMIN")?.trim().toLowerCase(),
    });
    await waitForShutdownSignal();
    await gateway.close();
    return 0;
  },
};

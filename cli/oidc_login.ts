/**
 * `hoop login` through single sign-on. With a browser on this machine: a
 * loopback redirect on an ephemeral port (RFC 8252), the browser opened on
 * the provider, and a one-time code exchanged for a hoop token. Without one
 * (`--no-browser`, over SSH): the gateway hands out a URL and a short code to
 * open anywhere, and the CLI polls until that login ends. Either way the
 * token is the gateway's own; the provider's never reach this machine.
 *
 * @module
 */
import type { LoginResponse, OidcCliStart, OidcDeviceStart } from "../proto/api_types.ts";
import { encodeBase64Url } from "../proto/base64.ts";
import { HoopError, unauthenticated, unavailable } from "../proto/errors.ts";
import type { ApiClient } from "./api_client.ts";
import type { Context } from "./context.ts";

/** How long `hoop login` waits for the browser to come back. */
export const LOOPBACK_LOGIN_TIMEOUT_MS = 5 * 60_000;

function random(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(24)));
}

/** Open `url` in the user's browser: `$BROWSER`, else xdg-open / open; false when none started. */
function openBrowser(ctx: Context, url: string): boolean {
  const browser = ctx.env("BROWSER");
  const candidates = browser ? [browser] : Deno.build.os === "darwin" ? ["open"] : ["xdg-open"];
  for (const cmd of candidates) {
    try {
      const child = new Deno.Command(cmd, {
        args: [url],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      })
        .spawn();
      child.status.catch(() => {});
      return true;
    } catch {
      // Not installed: try the next, then say so.
    }
  }
  return false;
}

const DONE_PAGE = `<!doctype html><meta charset="utf-8"><title>hoop</title>
<h1>Signed in</h1><p>You can close this tab and go back to your terminal.</p>`;

/** The loopback flow: resolves with the gateway's login answer. */
export async function loopbackLogin(ctx: Context, api: ApiClient): Promise<LoginResponse> {
  const state = random();
  let settle!: (r: { code?: string; error?: string }) => void;
  const answered = new Promise<{ code?: string; error?: string }>((r) => (settle = r));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname !== "/callback") return new Response("not found", { status: 404 });
    // Only the redirect of this login counts; anything else on the port is ignored.
    if (url.searchParams.get("state") !== state) {
      return new Response("this is not the login in progress", { status: 400 });
    }
    const error = url.searchParams.get("error") ?? undefined;
    settle({ code: url.searchParams.get("code") ?? undefined, error });
    return new Response(error ? `Sign-in failed: ${error}` : DONE_PAGE, {
      status: error ? 401 : 200,
      headers: { "content-type": error ? "text/plain; charset=utf-8" : "text/html; charset=utf-8" },
    });
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const redirect = `http://127.0.0.1:${server.addr.port}/callback`;
    const start = await api.post<OidcCliStart>("/api/oidc/cli/start", { redirect, state }, {
      anonymous: true,
    });
    const opened = openBrowser(ctx, start.authorize_url);
    await ctx.stderr.writeln(
      opened
        ? `Opening your browser to sign in. If it does not open, visit:\n  ${start.authorize_url}`
        : `Open this URL in a browser on this machine to sign in:\n  ${start.authorize_url}\n` +
          `(no browser here? run "hoop login --no-browser")`,
    );
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() =>
        reject(
          unavailable(`No sign-in came back within ${LOOPBACK_LOGIN_TIMEOUT_MS / 60_000} minutes`, {
            hint:
              'run "hoop login" again, or "hoop login --no-browser" to sign in from another device',
          }),
        ), LOOPBACK_LOGIN_TIMEOUT_MS);
    });
    const back = await Promise.race([answered, timeout]);
    if (back.error || !back.code) {
      throw unauthenticated(
        back.error ?? "Single sign-on failed: the browser came back without a code",
        {
          hint: 'run "hoop login" again',
        },
      );
    }
    return await api.post<LoginResponse>("/api/oidc/cli/token", { code: back.code }, {
      anonymous: true,
    });
  } finally {
    clearTimeout(timer);
    await server.shutdown();
  }
}

/** The device flow: print where to sign in, then poll until done. */
export async function deviceLogin(ctx: Context, api: ApiClient): Promise<LoginResponse> {
  const start = await api.post<OidcDeviceStart>("/api/oidc/device/start", {}, { anonymous: true });
  await ctx.stderr.writeln(
    `To sign in, open this URL in any browser:\n  ${start.verification_url}\n` +
      `and check that it shows code ${start.user_code}. Waiting...`,
  );
  const deadline = Date.parse(start.expires_at);
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, start.interval_s * 1000));
    const r = await api.post<LoginResponse | { status: "pending" }>("/api/oidc/device/poll", {
      login_id: start.login_id,
      secret: start.secret,
    }, { anonymous: true });
    if ("token" in r) return r;
  }
  throw new HoopError("unavailable", "The sign-in was not completed in time", {
    hint: 'run "hoop login --no-browser" again',
  });
}

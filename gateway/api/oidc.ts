/**
 * Single sign-on routes (README "Single sign-on"): which logins the gateway
 * offers, the browser's round trip through the provider for the web console,
 * and the two ways a CLI gets its hoop token: a loopback redirect (RFC 8252)
 * or a device login it polls for.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type * as wire from "../../proto/api_types.ts";
import {
  failedPrecondition,
  HoopError,
  invalidArgument,
  notFound,
  permissionDenied,
  unauthenticated,
} from "../../proto/errors.ts";
import { encodeBase64Url } from "../../proto/base64.ts";
import { DEVICE_POLL_INTERVAL_S, type Handoffs } from "../oidc/handoffs.ts";
import { upsertDirectoryUser } from "../oidc/directory.ts";
import type { LoginTarget, PendingLogins } from "../oidc/pending_logins.ts";
import type { OidcProvider } from "../oidc/provider.ts";
import type { AuthMethod } from "../oidc/settings.ts";
import { issueToken } from "../tokens.ts";
import { type Body, readJsonBody, requiredString } from "./_body.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { userView } from "./_views.ts";
import { setSessionCookie } from "./web_session.ts";

/** The single sign-on pieces of a gateway started with `--oidc-issuer`. */
export interface SsoContext {
  provider: OidcProvider;
  pending: PendingLogins;
  handoffs: Handoffs;
}

/** The login methods on offer (password only unless configured). */
export function authMethodsOf(ctx: ApiContext): AuthMethod[] {
  return ctx.authMethods ?? ["password"];
}

/**
 * Refuse a password login when `--auth-methods` turned passwords off, except
 * for the break-glass admin.
 */
export function assertPasswordLoginAllowed(ctx: ApiContext, email: string): void {
  if (authMethodsOf(ctx).includes("password")) return;
  if (ctx.breakGlassAdmin && ctx.breakGlassAdmin === email) return;
  throw permissionDenied(
    `Cannot log in as "${email}" with a password: this gateway uses single sign-on`,
    {
      hint: 'run "hoop login" without --email, or use "Sign in with SSO" in the web console',
    },
  );
}

function sso(ctx: ApiContext): SsoContext {
  if (!ctx.sso) {
    throw failedPrecondition("Single sign-on is not configured on this gateway", {
      hint: "start the gateway with --oidc-issuer and --oidc-client-id (README: Single sign-on)",
    });
  }
  return ctx.sso;
}

function random(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Send the browser to the provider for a login ending at `target`. */
async function toProvider(c: Context, s: SsoContext, target: LoginTarget): Promise<Response> {
  const login = s.pending.add({ state: random(), nonce: random(), verifier: random(), target });
  return c.redirect((await s.provider.authorizationUrl(login)).href, 302);
}

/** A loopback redirect of a CLI on this machine: `http://127.0.0.1:PORT/...` (or localhost, [::1]). */
function loopbackRedirect(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidArgument(`Invalid redirect "${text}": not a URL`);
  }
  if (url.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
    throw invalidArgument(
      `Invalid redirect "${text}": a CLI login redirects only to http://127.0.0.1:PORT on its own machine`,
    );
  }
  return url;
}

function esc(s: string): string {
  return s.replace(
    /[&<>"]/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!,
  );
}

/** A short page for the browser (the callback's answers are read by a person). */
function page(
  c: Context,
  status: 200 | 400 | 401 | 403,
  title: string,
  text: string,
  extra = "",
): Response {
  c.header("Content-Security-Policy", "default-src 'none'; form-action 'self'");
  c.header("X-Frame-Options", "DENY");
  return c.html(
    `<!doctype html><meta charset="utf-8"><title>${esc(title)}</title>` +
      `<h1>${esc(title)}</h1><p>${esc(text)}</p>${extra}`,
    status,
  );
}

function unknownDeviceCode(c: Context, code: string): Response {
  return page(
    c,
    400,
    "Unknown code",
    `No login waits for code "${code}": run "hoop login --no-browser" again.`,
  );
}

/** Ask the person at the browser whether they started this device login. */
function confirmPage(c: Context, code: string): Response {
  return page(
    c,
    200,
    "Sign in to hoop from a terminal?",
    `A "hoop login --no-browser" waits for code ${code}. Continue only if you started it yourself and your terminal shows this same code: whoever runs that command gets your access.`,
    `<form method="post" action="/api/oidc/device"><input type="hidden" name="user_code" value="${
      esc(code)
    }"><button type="submit">Continue to sign in</button></form>`,
  );
}

/** `/auth/methods` and `/oidc/...`. */
export function oidcRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  app.get("/auth/methods", (c) => {
    const methods = authMethodsOf(ctx).filter((m) => m !== "oidc" || ctx.sso);
    const body: wire.AuthMethods = { methods };
    if (ctx.sso) body.oidc = { web_login_url: "/api/oidc/web/login" };
    return c.json(body);
  });

  app.get("/oidc/web/login", (c) => toProvider(c, sso(ctx), { kind: "web" }));

  app.post("/oidc/cli/start", async (c) => {
    const s = sso(ctx);
    const body = await readJsonBody<{ redirect: string; state: string }>(c.req.raw);
    const redirect = loopbackRedirect(requiredString(body, "redirect"));
    const cliState = requiredString(body, "state");
    const login = s.pending.add({
      state: random(),
      nonce: random(),
      verifier: random(),
      target: { kind: "cli", redirect: redirect.href, cliState },
    });
    const answer: wire.OidcCliStart = {
      authorize_url: (await s.provider.authorizationUrl(login)).href,
    };
    return c.json(answer);
  });

  app.post("/oidc/cli/token", async (c) => {
    const s = sso(ctx);
    const body = await readJsonBody<{ code: string }>(c.req.raw);
    const login = s.handoffs.redeemCode(requiredString(body, "code"));
    if (!login) {
      throw unauthenticated(
        "Single sign-on failed: this login code was already used or has expired",
        {
          hint: 'run "hoop login" again',
        },
      );
    }
    return c.json(login);
  });

  app.post("/oidc/device/start", async (c) => {
    const s = sso(ctx);
    const d = await s.handoffs.startDevice();
    const answer: wire.OidcDeviceStart = {
      login_id: d.loginId,
      secret: d.secret,
      user_code: d.userCode,
      verification_url: `${s.provider.settings.publicUrl}/api/oidc/device?user_code=${d.userCode}`,
      interval_s: DEVICE_POLL_INTERVAL_S,
      expires_at: d.expiresAt.toISOString(),
    };
    return c.json(answer, 201);
  });

  // A device login hands its token to whoever started it, so the browser side asks
  // first: a link sent by someone else must not sign the clicker in silently (an open
  // session at the provider would otherwise need no click at all).
  app.get("/oidc/device", (c) => {
    const s = sso(ctx);
    const code = c.req.query("user_code") ?? "";
    if (!s.handoffs.deviceOfUserCode(code)) return unknownDeviceCode(c, code);
    return confirmPage(c, code.trim().toUpperCase());
  });

  app.post("/oidc/device", async (c) => {
    const s = sso(ctx);
    const origin = c.req.header("origin");
    const own = [new URL(s.provider.settings.publicUrl).origin, new URL(c.req.url).origin];
    if (!origin || !own.includes(origin)) {
      return page(
        c,
        403,
        "Sign-in refused",
        "This confirmation did not come from this gateway's own page. Open the link your terminal printed and confirm there.",
      );
    }
    const form = await c.req.parseBody();
    const code = typeof form.user_code === "string" ? form.user_code : "";
    const loginId = s.handoffs.deviceOfUserCode(code);
    if (!loginId) return unknownDeviceCode(c, code);
    return toProvider(c, s, { kind: "device", loginId });
  });

  app.post("/oidc/device/poll", async (c) => {
    const s = sso(ctx);
    const body = await readJsonBody<{ login_id: string; secret: string }>(c.req.raw) as Body<
      { login_id: string; secret: string }
    >;
    const r = await s.handoffs.pollDevice(
      requiredString(body, "login_id"),
      requiredString(body, "secret"),
    );
    if (!r) {
      throw notFound("Unknown or expired login", { hint: 'run "hoop login --no-browser" again' });
    }
    if (r.state === "pending") return c.json({ status: "pending" }, 202);
    if (r.state === "failed") throw unauthenticated(r.message);
    return c.json(r.login);
  });

  app.get("/oidc/callback", async (c) => {
    const s = sso(ctx);
    const url = new URL(c.req.url);
    const state = url.searchParams.get("state") ?? "";
    const login = s.pending.take(state);
    if (!login) {
      return page(
        c,
        400,
        "Sign-in link expired",
        "This sign-in answer does not match a login in progress (wrong state, already used, or older than 10 minutes). Start the sign-in again.",
      );
    }
    const denied = url.searchParams.get("error");
    let result: wire.LoginResponse | undefined;
    let failure: string | undefined;
    if (denied) {
      failure = `Single sign-on failed: the provider said ${denied}${
        url.searchParams.get("error_description")
          ? `: ${url.searchParams.get("error_description")}`
          : ""
      }`;
    } else {
      try {
        const { identity: who, refreshToken } = await s.provider.redeem(
          publicCallback(ctx, url),
          login,
        );
        const { user, created } = await upsertDirectoryUser(
          ctx.store,
          ctx.broker,
          who,
          s.provider.settings,
        );
        const issued = await issueToken(ctx.store, user.id, ctx.tokenTtlMs);
        // Kept (sealed) so that the provider is asked again while the token lives.
        if (refreshToken) {
          await ctx.store.putSsoGrant({
            tokenId: issued.id,
            userId: user.id,
            refreshToken,
            checkedAt: new Date().toISOString(),
          });
        }
        ctx.log.info(
          created ? "user created by single sign-on" : "user signed in with single sign-on",
          {
            user: user.email,
            role: user.role,
            groups: user.groups.join(","),
          },
        );
        if (login.target.kind === "web") {
          setSessionCookie(c, ctx, issued.token, issued.expiresAt);
          return c.redirect("/", 302);
        }
        result = {
          token: issued.token,
          expires_at: issued.expiresAt.toISOString(),
          user: userView(user),
        };
      } catch (err) {
        failure = err instanceof HoopError && err.hint
          ? `${err.message} (${err.hint})`
          : err instanceof Error
          ? err.message
          : String(err);
        ctx.log.info("single sign-on refused", { reason: failure });
      }
    }
    if (login.target.kind === "device") {
      s.handoffs.finishDevice(
        login.target.loginId,
        result ? { state: "done", login: result } : { state: "failed", message: failure! },
      );
      return result
        ? page(
          c,
          200,
          "Signed in",
          `Signed in as ${result.user.email}. You can close this page and go back to your terminal.`,
        )
        : page(c, 401, "Sign-in failed", failure!);
    }
    if (login.target.kind === "cli") {
      const back = new URL(login.target.redirect);
      back.searchParams.set("state", login.target.cliState);
      if (result) back.searchParams.set("code", s.handoffs.issueCode(result));
      else back.searchParams.set("error", failure!);
      return c.redirect(back.href, 302);
    }
    return page(c, 401, "Sign-in failed", failure!);
  });

  return app;
}

/**
 * The callback URL as the provider redirected to it: behind the front door
 * the request's own URL names the internal listener, so rebuild it on the
 * public URL the provider knows.
 */
function publicCallback(ctx: ApiContext, url: URL): URL {
  const base = new URL(`${ctx.sso!.provider.settings.publicUrl}/api/oidc/callback`);
  base.search = url.search;
  return base;
}

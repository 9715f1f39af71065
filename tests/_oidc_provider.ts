/**
 * A real OpenID provider for the single sign-on tests: `npm:oidc-provider`
 * (a certified implementation) in the test process, on a loopback port, with
 * one confidential client (the gateway) and accounts whose groups the test
 * sets. Its development login and consent pages are driven with plain HTTP
 * by {@linkcode playBrowser}, which plays the user's browser.
 *
 * @module
 */
import Provider from "oidc-provider";
import type { Server } from "node:http";
import { freePort } from "./_harness.ts";

/** A running provider. */
export interface TestProvider extends AsyncDisposable {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Groups of each account (by email); change them between logins. */
  groups: Map<string, string[]>;
  /** Accounts the directory disabled: their logins and refreshes are refused. */
  disabled: Set<string>;
  close(): Promise<void>;
}

/** Start a provider whose client redirects to `redirectUri`. */
export async function startProvider(redirectUri: string): Promise<TestProvider> {
  const port = freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = "hoop-gateway";
  const clientSecret = crypto.randomUUID();
  const groups = new Map<string, string[]>();
  const disabled = new Set<string>();
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    }],
    claims: { openid: ["sub"], email: ["email", "email_verified"], groups: ["groups"] },
    // Scope claims in the ID token itself (hoop reads them there, not from userinfo).
    conformIdTokenClaims: false,
    // Refresh tokens for every login of a client allowed them, as many directories do
    // (the library's default wants offline_access with a consent prompt).
    issueRefreshToken(_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) {
      return client.grantTypeAllowed("refresh_token");
    },
    findAccount(_ctx: unknown, id: string) {
      // No account: the provider refuses the login or the refresh (invalid_grant).
      if (disabled.has(id)) return undefined;
      return {
        accountId: id,
        claims() {
          return Promise.resolve({
            sub: id,
            email: id,
            email_verified: true,
            groups: groups.get(id) ?? [],
          });
        },
      };
    },
  });
  // The provider warns about its development keys and pages: that is what this is.
  const warn = console.warn;
  console.warn = () => {};
  const server = provider.listen(port, "127.0.0.1") as Server;
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  console.warn = warn;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
  return {
    issuer,
    clientId,
    clientSecret,
    groups,
    disabled,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Cookies of one origin, as a browser keeps them (names and values only). */
class CookieJar {
  #cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const i = pair.indexOf("=");
      this.#cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1));
    }
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

/** The fields of the first form on a page, and where it posts. */
function firstForm(html: string, base: string): { action: string; fields: URLSearchParams } {
  const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no form on the provider's page:\n${html.slice(0, 500)}`);
  const fields = new URLSearchParams();
  for (const m of form[2].matchAll(/<input[^>]*>/gi)) {
    const name = /name="([^"]+)"/.exec(m[0])?.[1];
    const value = /value="([^"]*)"/.exec(m[0])?.[1] ?? "";
    if (name) fields.set(name, value);
  }
  return { action: new URL(form[1], base).href, fields };
}

/**
 * Play the user's browser from `startUrl` (the provider's authorization URL,
 * or a gateway URL that redirects there): sign in as `login` on the
 * provider's pages, consent, and follow redirects until one leaves the
 * provider. Returns that URL (the gateway's callback) without fetching it.
 */
export async function signInAtProvider(
  startUrl: string,
  issuer: string,
  login: string,
): Promise<string> {
  const jar = new CookieJar();
  let url = startUrl;
  let body: { method: string; form?: URLSearchParams } = { method: "GET" };
  for (let hop = 0; hop < 20; hop++) {
    if (new URL(url).origin !== new URL(issuer).origin) return url;
    const res = await fetch(url, {
      method: body.method,
      redirect: "manual",
      headers: {
        cookie: jar.header(),
        ...(body.form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      body: body.form?.toString(),
    });
    jar.take(res);
    const location = res.headers.get("location");
    if (location) {
      await res.body?.cancel();
      url = new URL(location, url).href;
      body = { method: "GET" };
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) {
      throw new Error(`the provider answered ${res.status}: ${html.slice(0, 500)}`);
    }
    const form = firstForm(html, url);
    if (form.fields.has("login")) {
      form.fields.set("login", login);
      form.fields.set("password", "any");
    }
    url = form.action;
    body = { method: "POST", form: form.fields };
  }
  throw new Error("too many redirects at the provider");
}

/** Follow a gateway URL's redirects (manually, as a browser would) and return the last response's URL and text. */
export async function followGateway(
  url: string,
  stopAt?: (u: URL) => boolean,
): Promise<{ url: string; status: number; text: string; headers: Headers }> {
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(url, { redirect: "manual" });
    const location = res.headers.get("location");
    if (!location) {
      return { url, status: res.status, text: await res.text(), headers: res.headers };
    }
    await res.body?.cancel();
    const next = new URL(location, url);
    if (stopAt?.(next)) {
      return { url: next.href, status: res.status, text: "", headers: res.headers };
    }
    url = next.href;
  }
  throw new Error("too many redirects at the gateway");
}

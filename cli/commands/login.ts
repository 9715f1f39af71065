import type { AuthMethods, LoginResponse } from "../../proto/api_types.ts";
import { HoopError } from "../../proto/errors.ts";
import type { ApiClient } from "../api_client.ts";
import { booleanFlag, type Command, stringFlag, UsageError } from "../command.ts";
import { loadConfig, saveConfig } from "../config.ts";
import { deviceLogin, loopbackLogin } from "../oidc_login.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor, readPassword } from "./_api.ts";

/** The gateway's login methods; an older gateway without the route offers passwords only. */
async function methodsOf(api: ApiClient): Promise<AuthMethods["methods"]> {
  try {
    return (await api.get<AuthMethods>("/api/auth/methods", { anonymous: true })).methods;
  } catch (err) {
    if (err instanceof HoopError && err.code === "not_found") return ["password"];
    throw err;
  }
}

/** `hoop login`: get a token and save it with the gateway's address. */
export const loginCommand: Command = {
  path: ["login"],
  summary: "Log in to a gateway and save the token",
  usage: "hoop login [--email EMAIL [--password-stdin]] [--sso] [--no-browser] [--api-url URL]",
  help: `Saves the token, the email and the API URL in ~/.hoop/config.json (mode 0600;
HOOP_HOME moves the directory). HOOP_TOKEN and HOOP_API_URL override the saved values.

With --email, logs in with that account's password. Without it, on a gateway that offers single
sign-on, it opens your browser on the identity provider and waits for it to come back to a
port on 127.0.0.1; with --no-browser it prints a URL and a code to open on any device (over SSH,
say) and waits until that sign-in is done. The token is the gateway's own, as with a password.

Flags:
  --email EMAIL       the account's email (password login)
  --password-stdin    read the password from the first line of standard input
                      (default: prompt for it when stdin is a terminal)
  --sso               single sign-on even when the gateway also takes passwords
  --no-browser        single sign-on from another device: print a URL and a code, then wait
${API_URL_HELP}

Environment:
  BROWSER             the command that opens a URL (default xdg-open, or open on macOS)

Examples:
  hoop login --email alice@example.com
  hoop login                      # single sign-on in the browser
  hoop login --no-browser         # single sign-on from another device
  hoop login --email ci@example.com --password-stdin --api-url https://hoop.example.com < pw.txt`,
  options: {
    email: { type: "string" },
    "password-stdin": { type: "boolean" },
    sso: { type: "boolean" },
    "no-browser": { type: "boolean" },
    ...API_URL_OPTION,
  },
  async run(ctx, { values }) {
    const api = await clientFor(ctx, values);
    try {
      const email = stringFlag(values, "email");
      const noBrowser = booleanFlag(values, "no-browser");
      const wantSso = booleanFlag(values, "sso") || noBrowser || email === undefined;
      let login: LoginResponse;
      if (wantSso) {
        const methods = await methodsOf(api);
        if (!methods.includes("oidc")) {
          throw new UsageError(
            email === undefined
              ? "Missing --email: this gateway has no single sign-on, log in with a password"
              : "This gateway has no single sign-on",
            { hint: 'run "hoop login --email EMAIL"' },
          );
        }
        login = noBrowser ? await deviceLogin(ctx, api) : await loopbackLogin(ctx, api);
      } else {
        const password = await readPassword(ctx, values);
        login = await api.post<LoginResponse>("/api/login", { email, password }, {
          anonymous: true,
        });
      }
      const config = await loadConfig(ctx);
      await saveConfig(ctx, {
        ...config,
        api_url: api.apiUrl,
        token: login.token,
        email: login.user.email,
      });
      await ctx.stderr.writeln(`Logged in as ${login.user.email}`);
      return 0;
    } finally {
      api.close();
    }
  },
};

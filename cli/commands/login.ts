import type { LoginResponse } from "../../proto/api_types.ts";
import { type Command, requiredFlag } from "../command.ts";
import { loadConfig, saveConfig } from "../config.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor, readPassword } from "./_api.ts";

/** `hoop login`: get a token and save it with the gateway's address. */
export const loginCommand: Command = {
  path: ["login"],
  summary: "Log in to a gateway and save the token",
  usage: "hoop login --email EMAIL [--password-stdin] [--api-url URL]",
  help: `Saves the token, the email and the API URL in ~/.hoop/config.json (mode 0600;
HOOP_HOME moves the directory). HOOP_TOKEN and HOOP_API_URL override the saved values.

Flags:
  --email EMAIL       the account's email
  --password-stdin    read the password from the first line of standard input
                      (default: prompt for it when stdin is a terminal)
${API_URL_HELP}

Examples:
  hoop login --email alice@example.com
  hoop login --email ci@example.com --password-stdin --api-url https://hoop.example.com < pw.txt`,
  options: { email: { type: "string" }, "password-stdin": { type: "boolean" }, ...API_URL_OPTION },
  async run(ctx, { values }) {
    const email = requiredFlag(values, "email");
    const password = await readPassword(ctx, values);
    const api = await clientFor(ctx, values);
    try {
      const login = await api.post<LoginResponse>("/api/login", { email, password }, {
        anonymous: true,
      });
      const config = await loadConfig(ctx);
      await saveConfig(ctx, { ...config, api_url: api.apiUrl, token: login.token, email });
      await ctx.stderr.writeln(`Logged in as ${email}`);
      return 0;
    } finally {
      api.close();
    }
  },
};

import type { LoginResponse, User } from "../../proto/api_types.ts";
import { type Command, requiredFlag } from "../command.ts";
import { loadConfig, saveConfig } from "../config.ts";
import { API_URL_HELP, API_URL_OPTION, clientFor, readPassword } from "./_api.ts";

/** `hoop signup`: create the first account (an admin) and log in. */
export const signupCommand: Command = {
  path: ["signup"],
  summary: "Create the first account of a new gateway (it becomes admin) and log in",
  usage: "hoop signup --email EMAIL [--password-stdin] [--api-url URL]",
  help: `Only works while the gateway has no user; later accounts are added by an admin
with "hoop admin create user". The token is saved in ~/.hoop/config.json (mode 0600).

Flags:
  --email EMAIL       the new account's email
  --password-stdin    read the password from the first line of standard input
                      (default: prompt for it when stdin is a terminal)
${API_URL_HELP}

Examples:
  hoop signup --email admin@example.com
  echo "$PASSWORD" | hoop signup --email admin@example.com --password-stdin`,
  options: { email: { type: "string" }, "password-stdin": { type: "boolean" }, ...API_URL_OPTION },
  async run(ctx, { values }) {
    const email = requiredFlag(values, "email");
    const password = await readPassword(ctx, values, { confirm: true });
    const api = await clientFor(ctx, values);
    try {
      const { user } = await api.post<{ user: User }>("/api/signup", { email, password }, {
        anonymous: true,
      });
      const login = await api.post<LoginResponse>("/api/login", { email, password }, {
        anonymous: true,
      });
      const config = await loadConfig(ctx);
      await saveConfig(ctx, { ...config, api_url: api.apiUrl, token: login.token, email });
      await ctx.stderr.writeln(`Signed up and logged in as ${email} (${user?.role ?? "admin"})`);
      return 0;
    } finally {
      api.close();
    }
  },
};

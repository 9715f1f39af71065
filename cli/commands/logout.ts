import { ApiClient, loadTlsCa } from "../api_client.ts";
import { type Command, stringFlag } from "../command.ts";
import { loadConfig, resolveApi, saveConfig } from "../config.ts";
import { HoopError } from "../../proto/errors.ts";
import { API_URL_HELP, API_URL_OPTION } from "./_api.ts";

/** `hoop logout`: revoke the token on the gateway and forget it. */
export const logoutCommand: Command = {
  path: ["logout"],
  summary: "Revoke the saved token and remove it from the config file",
  usage: "hoop logout [--api-url URL]",
  help: `The token is revoked on the gateway first; when the gateway cannot be reached the
token is kept so that "hoop logout" can be tried again. A token the gateway no longer
accepts is simply removed.

Flags:
${API_URL_HELP}

Examples:
  hoop logout`,
  options: { ...API_URL_OPTION },
  async run(ctx, { values }) {
    const resolved = await resolveApi(ctx, { apiUrl: stringFlag(values, "api-url") });
    const config = await loadConfig(ctx);
    if (!resolved.token) {
      await ctx.stderr.writeln("Not logged in");
      return 0;
    }
    const api = new ApiClient({ ...resolved, caCert: await loadTlsCa(ctx) });
    try {
      await api.post("/api/logout");
    } catch (err) {
      // An expired or revoked token is as good as logged out.
      if (!(err instanceof HoopError && err.code === "unauthenticated")) throw err;
    } finally {
      api.close();
    }
    if (config.token === resolved.token) {
      const { token: _, ...rest } = config;
      await saveConfig(ctx, rest);
    }
    await ctx.stderr.writeln("Logged out");
    return 0;
  },
};

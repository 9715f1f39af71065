/**
 * `GET /api/connections/{name}/terminal`: a WebSocket carrying an
 * interactive console (verb console, recorded like `hoop connect` to a
 * command connection); the bridge is `gateway/web_exec/terminal_bridge.ts`.
 * Everything that can be refused is refused before the upgrade, as an HTTP
 * error; after it, a failure is a `{"type":"error"}` message and a close.
 * A browser cannot set headers on a WebSocket, so with the cookie the CSRF
 * token comes as the `csrf` query parameter, and the `Origin` (which
 * browsers always send here) must be the API's own.
 *
 * @module
 */
import { Hono } from "hono";
import { failedPrecondition, invalidArgument } from "../../proto/errors.ts";
import {
  bridgeTerminal,
  closeWith,
  holdEarlyMessages,
  openOwnSession,
  socketOpened,
  terminalDimension,
} from "../web_exec/mod.ts";
import { requireUser } from "./_auth.ts";
import type { ApiContext, ApiEnv } from "./_context.ts";
import { checkCsrf, csrfRefused, originAllowed } from "./_web_cookie.ts";
import { visibleConnection } from "./connections.ts";

/** Seconds between the server's pings; well under the API port's idle timeout. */
export const TERMINAL_PING_SECONDS = 30;

/** `/connections/:name/terminal`. */
export function terminalRoutes(ctx: ApiContext): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const user = requireUser(ctx);

  app.get("/connections/:name/terminal", user, async (c) => {
    if (c.get("via") === "cookie") {
      await checkCsrf(c, ctx, { tokenId: c.get("token").id, supplied: c.req.query("csrf") });
    } else if (!originAllowed(c, ctx)) {
      throw csrfRefused();
    }
    const name = c.req.param("name");
    const conn = await visibleConnection(ctx, c.get("user"), name);
    if (conn.type !== "command") {
      throw failedPrecondition(
        `Cannot open a terminal on connection "${name}": it is of type ${conn.type}`,
        { hint: `use "hoop connect ${name}"` },
      );
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw invalidArgument(`Cannot open a terminal on connection "${name}": use a WebSocket`);
    }
    const cols = terminalDimension(Number(c.req.query("cols")));
    const rows = terminalDimension(Number(c.req.query("rows")));
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw, {
      idleTimeout: TERMINAL_PING_SECONDS,
    });
    const caller = c.get("user");
    const token = c.get("token");
    void (async () => {
      if (!await socketOpened(socket)) return;
      const early = holdEarlyMessages(socket);
      let session;
      try {
        session = await openOwnSession(ctx, {
          user: caller,
          token,
          connection: conn,
          verb: "console",
          cols,
          rows,
        });
      } catch (err) {
        closeWith(socket, {
          type: "error",
          message: err instanceof Error ? err.message : String(err),
        });
        return;
      }
      await bridgeTerminal(socket, session, { early, stopping: ctx.stopping });
    })().catch((err) => ctx.log.warn("web terminal failed", { err }));
    return response;
  });

  return app;
}

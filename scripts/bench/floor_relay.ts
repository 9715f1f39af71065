/**
 * A bare relay for the bench's floor paths: hoop's own building blocks for
 * one hop (the listeners, `connectDataPort`, `splice`) and nothing else: no
 * session, ticket, audit or protocol logic. A chain of these with the hops of
 * a hoop path shows what Deno itself allows on that path, measured in the
 * same run as hoop and `ssh -L` (see scripts/bench/floor.ts).
 *
 * Usage: floor_relay.ts --listen plain|tls|pg-tls --dial plain|tls --to PORT
 *        [--cert FILE --key FILE] [--ca FILE]
 *
 * `pg-tls` accepts as the gateway's TLS PostgreSQL listener does: node:net,
 * then `negotiateListenerStartup` (SSLRequest answered `S`, node:tls, the
 * startup packet read), whose packet it forwards as it came. It prints
 * `floor relay listening on 127.0.0.1:PORT` on stderr once it accepts.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { negotiateListenerStartup } from "../../gateway/postgres/listener_startup.ts";
import { ListenerTls } from "../../gateway/postgres/listener_tls.ts";
import { acceptLoop } from "../../proto/accept_loop.ts";
import { closeQuietly, writeAll } from "../../proto/bytes.ts";
import { connectDataPort } from "../../proto/data_dial.ts";
import { listenNoDelay } from "../../proto/listen.ts";
import { NodeSocketListener } from "../../proto/node_socket_conn.ts";
import { splice } from "../../proto/splice.ts";

const LISTEN_MODES = ["plain", "tls", "pg-tls"] as const;
const DIAL_MODES = ["plain", "tls"] as const;

function fail(message: string): never {
  console.error(`floor relay: ${message}`);
  Deno.exit(2);
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    listen: { type: "string" },
    dial: { type: "string" },
    to: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    ca: { type: "string" },
  },
  strict: true,
});
const listen = values.listen as typeof LISTEN_MODES[number];
const dial = values.dial as typeof DIAL_MODES[number];
if (!LISTEN_MODES.includes(listen)) fail(`--listen must be one of ${LISTEN_MODES.join(", ")}`);
if (!DIAL_MODES.includes(dial)) fail(`--dial must be one of ${DIAL_MODES.join(", ")}`);
const to = Number(values.to);
if (!Number.isInteger(to) || to < 1 || to > 65_535) fail(`--to "${values.to}" is not a port`);
if (listen !== "plain" && (!values.cert || !values.key)) {
  fail(`--listen ${listen} needs --cert and --key`);
}
const files = listen === "plain"
  ? undefined
  : { cert: Deno.readTextFileSync(values.cert!), key: Deno.readTextFileSync(values.key!) };
const caCert = values.ca ? Deno.readTextFileSync(values.ca) : undefined;

const local = { hostname: "127.0.0.1", port: 0 };
const listener: Deno.Listener = listen === "pg-tls"
  ? await NodeSocketListener.listen(local)
  : listenNoDelay(local, listen === "tls" ? files : undefined).listener;
const pgTls = listen === "pg-tls" ? new ListenerTls(files!) : undefined;

/** The client's side of the hop, TLS already up where the mode has it, and what to forward first. */
async function clientSide(conn: Deno.Conn): Promise<{ conn: Deno.Conn; first?: Uint8Array }> {
  if (!pgTls) return { conn };
  const startup = await negotiateListenerStartup(conn, pgTls);
  if (!startup) throw new Error("the client left before its startup packet");
  return { conn: startup.conn, first: startup.raw };
}

acceptLoop(listener, async (conn) => {
  let client: Deno.Conn | undefined;
  let next: Deno.Conn | undefined;
  try {
    const side = await clientSide(conn);
    client = side.conn;
    next = await connectDataPort({ addr: `127.0.0.1:${to}`, tls: dial === "tls", caCert });
    if (side.first) await writeAll(next, side.first);
    await splice(client, next);
  } finally {
    closeQuietly(client ?? conn);
    closeQuietly(next);
  }
}, { onError: (err) => console.error(`floor relay: ${(err as Error).message}`) });
console.error(`floor relay listening on 127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);

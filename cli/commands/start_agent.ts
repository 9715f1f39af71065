import { log } from "../../proto/log.ts";
import { installProcessGuard } from "../../proto/process_guard.ts";
import { parseDsn } from "../../proto/dsn.ts";
import { HoopError } from "../../proto/errors.ts";
import { loadTlsCa } from "../api_client.ts";
import { booleanFlag, type Command } from "../command.ts";
import { PERMISSIONS } from "../permissions.ts";
import { agentUnit, execStartOfThisBinary } from "../systemd_unit.ts";
import type { Context } from "../context.ts";
import { waitForShutdownSignal } from "./_signals.ts";

/** Read and parse HOOP_KEY; a missing or malformed key is a usage error (exit 2). */
export function agentKey(ctx: Context) {
  const text = ctx.env("HOOP_KEY");
  if (!text) {
    throw new HoopError("invalid_argument", "HOOP_KEY is not set", {
      hint: 'create a key with "hoop admin create agent NAME" and export HOOP_KEY=<dsn>',
    });
  }
  return parseDsn(text);
}

/** `hoop start agent`: serve the connections an admin assigns to this agent. */
export const startAgentCommand: Command = {
  path: ["start", "agent"],
  summary: "Run an agent with HOOP_KEY (standard mode)",
  usage: "hoop start agent [--print-unit]",
  help: `Dials the gateway named in HOOP_KEY, shows ONLINE in "hoop admin get agents", and
serves every connection assigned to it ("hoop admin create connection NAME --agent AGENT ...").
It reconnects forever with backoff (1 s doubling to 15 s) when the gateway is unreachable,
and exits 1 when its key is revoked or unknown. SIGINT/SIGTERM stop it cleanly (exit 0).

Environment:
  HOOP_KEY     the agent's DSN from "hoop admin create agent NAME" (required; an
               embedded-mode key or the org key is refused: those are for "hoop run")
  HOOP_TLSCA   CA certificate for grpcs:// gateways: a PEM file path or base64://PEM

Options:
  --print-unit   print a systemd unit that runs this binary as "hoop start agent" and exit
                 (install it as /etc/systemd/system/hoop-agent.service; the key goes in
                 /etc/hoop/agent.env as HOOP_KEY=...)

Examples:
  export HOOP_KEY=$(hoop admin create agent dev)
  hoop start agent
  hoop start agent --print-unit | sudo tee /etc/systemd/system/hoop-agent.service`,
  options: { "print-unit": { type: "boolean" } },
  async run(ctx, args) {
    if (booleanFlag(args.values, "print-unit")) {
      await ctx.stdout.write(agentUnit(execStartOfThisBinary(PERMISSIONS)));
      return 0;
    }
    const dsn = agentKey(ctx);
    if (dsn.mode === "embedded") {
      // The org key and mode=embedded keys publish their own connection: a standard agent
      // on one would come online serving nothing.
      throw new HoopError(
        "invalid_argument",
        `Cannot start agent "${dsn.name}": HOOP_KEY is an embedded-mode key (mode=embedded), ` +
          `for "hoop run"`,
        {
          hint: 'use it with "hoop run --name NAME --command CMD", or create a standard key ' +
            'with "hoop admin create agent NAME"',
        },
      );
    }
    const tlsCa = await loadTlsCa(ctx);
    const stop = new AbortController();
    void waitForShutdownSignal(stop.signal).then((sig) => {
      if (sig) stop.abort();
    });
    // Loaded here, not at the top: grpc-js costs every other command ~0.3 s of start-up.
    const { runAgent } = await import("../../agent/mod.ts");
    installProcessGuard(log.with({ component: "agent" }));
    const exit = await runAgent({ dsn, tlsCa, signal: stop.signal });
    stop.abort();
    if (exit.reason === "refused") throw new HoopError("failed_precondition", exit.message);
    if (exit.reason === "unauthorized") {
      throw new HoopError(
        "unauthenticated",
        `unauthorized: ${exit.message.replace(/^unauthorized: /, "")}`,
      );
    }
    return 0;
  },
};

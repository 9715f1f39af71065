/**
 * The bench's floor paths: for each hoop path, a chain of bare relays
 * (scripts/bench/floor_relay.ts) with the same hops, TLS where hoop has it.
 * Each relay is hoop's listener, dialer and `splice` for one hop with no
 * session, audit or protocol logic, so the chain is the best a Deno relay of
 * that shape does on this machine, in the same run: what separates hoop from
 * its floor is hoop's own work; what separates the floor from `ssh -L` is
 * the runtime's.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { TestCerts } from "../../tests/_tls.ts";
import { waitFor } from "../../tests/_harness.ts";
import type { PathProcess } from "./cpu.ts";
import { spawnService } from "./proc.ts";
import type { FLOOR_OF } from "./targets.ts";

/** How a relay accepts: plain TCP, TLS from the first byte, or PostgreSQL's SSLRequest then TLS. */
type Accept = "plain" | "tls" | "pg-tls";

/** One of the floor paths. */
export type FloorPathId = typeof FLOOR_OF[keyof typeof FLOOR_OF];

/**
 * Each floor's relays from the client on: the process of the hoop path it
 * stands for, and how it accepts (the hop before it). Every relay dials the
 * next one as that one accepts; the last dials PostgreSQL in plain TCP, as
 * the agent does.
 */
const FLOOR_HOPS: Record<FloorPathId, { role: string; accept: Accept }[]> = {
  "floor-connect": [
    { role: "bare CLI", accept: "plain" },
    { role: "bare gateway", accept: "plain" },
    { role: "bare agent", accept: "plain" },
  ],
  "floor-connect-tls": [
    { role: "bare CLI", accept: "plain" },
    { role: "bare gateway", accept: "tls" },
    { role: "bare agent", accept: "tls" },
  ],
  "floor-listener": [
    { role: "bare gateway", accept: "plain" },
    { role: "bare agent", accept: "plain" },
  ],
  "floor-listener-tls": [
    { role: "bare gateway", accept: "pg-tls" },
    { role: "bare agent", accept: "tls" },
  ],
};

const RELAY = fileURLToPath(new URL("./floor_relay.ts", import.meta.url));

/** Where a floor chain takes clients, and its relays for the CPU table. */
export interface FloorChain {
  port: number;
  /** The first hop is TLS after an SSLRequest: clients must ask for it. */
  tls: boolean;
  procs: PathProcess[];
}

/** Start the relays of floor `id` in front of PostgreSQL on `pgPort`. */
export async function startFloorChain(
  id: FloorPathId,
  pgPort: number,
  certs: TestCerts,
): Promise<FloorChain> {
  const hops = FLOOR_HOPS[id];
  let port = pgPort;
  const procs: PathProcess[] = [];
  // Started from PostgreSQL outwards: each relay needs the port of the next.
  for (let i = hops.length - 1; i >= 0; i--) {
    const dial = i === hops.length - 1 || hops[i + 1].accept === "plain" ? "plain" : "tls";
    const relay = spawnService(`${id} ${hops[i].role}`, Deno.execPath(), [
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      `--allow-read=${certs.dir}`,
      "--allow-ffi",
      RELAY,
      "--listen",
      hops[i].accept,
      "--dial",
      dial,
      "--to",
      String(port),
      "--cert",
      certs.certFile,
      "--key",
      certs.keyFile,
      "--ca",
      certs.caCertFile,
    ]);
    const listening = await waitFor(
      () => relay.log().match(/floor relay listening on 127\.0\.0\.1:(\d+)/)?.[1],
      { timeoutMs: 20_000, message: `${id}: the ${hops[i].role} relay never listened` },
    );
    port = Number(listening);
    procs.unshift({ role: hops[i].role, pid: relay.pid });
  }
  return { port, tls: hops[0].accept === "pg-tls", procs };
}

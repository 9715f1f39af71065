import assert from "node:assert/strict";
import { parsePgbench } from "./pgbench.ts";

const PG15 = `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 10
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 451234
number of failed transactions: 0 (0.000%)
latency average = 0.088 ms
initial connection time = 6.512 ms
tps = 45123.456789 (without initial connection time)
`;

Deno.test("parsePgbench() reads TPS, latency, processed and failed of pgbench 15", () => {
  assert.deepEqual(parsePgbench(PG15), {
    tps: 45123.456789,
    latencyMs: 0.088,
    processed: 451234,
    failed: 0,
    aborted: false,
  });
});

Deno.test("parsePgbench() reports failed transactions and aborted clients", () => {
  const out = PG15.replace("failed transactions: 0 (0.000%)", "failed transactions: 12 (0.1%)") +
    "pgbench: error: client 3 aborted in command 1 (SQL) of script 0\nRun was aborted; the above results are incomplete.\n";
  const s = parsePgbench(out);
  assert.equal(s.failed, 12);
  assert.equal(s.aborted, true);
});

Deno.test("parsePgbench() throws on output without a summary", () => {
  assert.throws(
    () => parsePgbench("pgbench: error: connection to server failed"),
    /Cannot parse pgbench output/,
  );
});

import assert from "node:assert/strict";
import { parseBenchArgs } from "./options.ts";

Deno.test("parseBenchArgs() defaults to 3 rounds of every path and writes docs/BENCHMARKS.md", () => {
  const o = parseBenchArgs([]);
  assert.equal(o.rounds, 3);
  assert.equal(o.seconds, 10);
  assert.equal(o.copyMb, 500);
  assert.equal(o.execRuns, 50);
  assert.deepEqual(o.paths, [
    "direct",
    "ssh",
    "connect",
    "connect-tls",
    "listener",
    "listener-tls",
    "floor-connect",
    "floor-connect-tls",
    "floor-listener",
    "floor-listener-tls",
  ]);
  assert.deepEqual(o.agents, [1, 100, 1000]);
  assert.equal(o.out, "docs/BENCHMARKS.md");
});

Deno.test("parseBenchArgs() --quick shrinks everything and prints only", () => {
  const o = parseBenchArgs(["--quick"]);
  assert.deepEqual([o.rounds, o.seconds, o.copyMb, o.execRuns], [1, 3, 100, 10]);
  assert.equal(o.out, undefined);
  assert.equal(parseBenchArgs(["--quick", "--rounds", "2"]).rounds, 2);
});

Deno.test("parseBenchArgs() --paths keeps report order, --no-tls and --no-floor drop paths", () => {
  assert.deepEqual(parseBenchArgs(["--paths", "listener,direct"]).paths, ["direct", "listener"]);
  assert.deepEqual(parseBenchArgs(["--no-tls", "--no-floor"]).paths, [
    "direct",
    "ssh",
    "connect",
    "listener",
  ]);
  assert.deepEqual(parseBenchArgs(["--no-tls"]).paths, [
    "direct",
    "ssh",
    "connect",
    "listener",
    "floor-connect",
    "floor-listener",
  ]);
  assert.deepEqual(parseBenchArgs(["--no-agents", "--agents", "5"]).agents, []);
  assert.deepEqual(parseBenchArgs(["--agents", "2,20"]).agents, [2, 20]);
});

Deno.test("parseBenchArgs() rejects unknown paths, bad numbers and unknown flags", () => {
  assert.throws(() => parseBenchArgs(["--paths", "vpn"]), /Cannot use path "vpn": unknown/);
  assert.throws(() => parseBenchArgs(["--rounds", "0"]), /Cannot use --rounds "0"/);
  assert.throws(() => parseBenchArgs(["--fast"]));
});

/**
 * Fuzz tests of {@linkcode parseHostPort}: listen and dial addresses from
 * flags and the environment.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzText } from "./_fuzz.ts";
import { HoopError } from "./errors.ts";
import { formatHostPort, parseHostPort } from "./host_port.ts";

Deno.test("parseHostPort() fuzzed: a host and a port in range or an invalid_argument error", async () => {
  await fuzzText({
    name: "parseHostPort",
    seeds: ["127.0.0.1:8010", "[::1]:8443", ":0", "gateway.internal:65535", "0.0.0.0:1"],
    expected: (err) => err instanceof HoopError && err.code === "invalid_argument",
    run(input, rng) {
      const allowZero = rng.chance(0.5);
      const addr = parseHostPort(input, { what: "address", allowZero });
      assert.ok(Number.isInteger(addr.port) && addr.port >= (allowZero ? 0 : 1));
      assert.ok(addr.port <= 65535);
      assert.ok(addr.hostname !== "");
      assert.ok(!/[\[\]]/.test(addr.hostname), `hostname "${addr.hostname}" keeps a bracket`);
      // What parses formats back to the same address (hosts with ":" get brackets).
      assert.deepEqual(parseHostPort(formatHostPort(addr), { what: "address", allowZero }), addr);
    },
  });
});

Deno.test("parseHostPort() refuses a bracket inside a bracketed host (fuzz finding)", () => {
  assert.throws(() => parseHostPort("[::[::1]:8443"), HoopError);
  assert.deepEqual(parseHostPort("[::1]:8443"), { hostname: "::1", port: 8443 });
});

Deno.test("parseHostPort() refuses white space and control characters in the host (fuzz finding)", () => {
  for (const text of ["[\n1\n41]:844", "local host:8010", "a\u0000b:1", "[::1 ]:1"]) {
    assert.throws(() => parseHostPort(text), HoopError, JSON.stringify(text));
  }
  assert.deepEqual(parseHostPort(" 127.0.0.1:8010\n"), { hostname: "127.0.0.1", port: 8010 });
});

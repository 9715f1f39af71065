import assert from "node:assert/strict";
import { dialableAddr, formatHostPort, parseHostPort } from "./host_port.ts";
import { HoopError } from "./errors.ts";

Deno.test("parseHostPort() reads IPv4, IPv6 and empty hosts", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:8010"), { hostname: "127.0.0.1", port: 8010 });
  assert.deepEqual(parseHostPort("[::1]:8010"), { hostname: "::1", port: 8010 });
  assert.deepEqual(parseHostPort(":8010"), { hostname: "0.0.0.0", port: 8010 });
  assert.deepEqual(parseHostPort("db.internal:5432"), { hostname: "db.internal", port: 5432 });
});

Deno.test("parseHostPort() rejects bad ports and shapes with a message naming the value", () => {
  for (const bad of ["127.0.0.1", "host:", "host:99999", "host:abc", "a:b:c"]) {
    assert.throws(() => parseHostPort(bad, { what: "listen address" }), (err: unknown) => {
      assert.ok(err instanceof HoopError);
      assert.equal(err.code, "invalid_argument");
      assert.ok(err.message.includes(`"${bad}"`), err.message);
      return true;
    });
  }
  assert.throws(() => parseHostPort("h:0"), /from 1 to 65535/);
  assert.deepEqual(parseHostPort("h:0", { what: "x", allowZero: true }), {
    hostname: "h",
    port: 0,
  });
});

Deno.test("formatHostPort() brackets IPv6 and dialableAddr() replaces wildcards", () => {
  assert.equal(formatHostPort({ hostname: "::1", port: 1 }), "[::1]:1");
  assert.deepEqual(dialableAddr({ hostname: "0.0.0.0", port: 8011 }), {
    hostname: "127.0.0.1",
    port: 8011,
  });
  assert.deepEqual(dialableAddr({ hostname: "::", port: 8011 }), { hostname: "::1", port: 8011 });
});

import assert from "node:assert/strict";
import { HoopError } from "./errors.ts";
import {
  DsnError,
  type DsnErrorPart,
  formatDsn,
  grpcTarget,
  NAME_PATTERN,
  parseDsn,
  redactDsn,
  validateName,
} from "./dsn.ts";
import { generateAgentKey } from "./keys.ts";

const KEY = "xagt-mzv7CRgUs23TgHpk0XNmll0TO37qfwM0D3JGQpwGPa8";
const BODY = KEY.slice(5);
const EXAMPLE = `grpcs://dev:${KEY}@use.hoop.dev:8443?mode=standard`;

/** Assert that `text` is refused for `part` with exactly `message`, and never leaks the key. */
function assertRejects(text: string, part: DsnErrorPart, message: string): void {
  let caught: unknown;
  try {
    parseDsn(text);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DsnError, `expected DsnError for ${redactDsn(text)}`);
  assert.ok(caught instanceof HoopError);
  assert.equal(caught.code, "invalid_argument");
  assert.equal(caught.message, message);
  assert.equal(caught.part, part);
  assert.ok(!caught.message.includes(BODY), "the message must not echo the auth key");
  assert.ok(!(caught.hint ?? "").includes(BODY), "the hint must not echo the auth key");
}

Deno.test("parseDsn() reads the documented example", () => {
  assert.deepEqual(parseDsn(EXAMPLE), {
    scheme: "grpcs",
    name: "dev",
    key: KEY,
    host: "use.hoop.dev",
    port: 8443,
    mode: "standard",
    tls: true,
  });
});

Deno.test("parseDsn() maps each scheme to TLS or not", () => {
  for (
    const [scheme, tls] of [["grpc", false], ["grpcs", true], ["http", false], ["https", true]]
  ) {
    const dsn = parseDsn(`${scheme}://dev:${KEY}@h:1?mode=embedded`);
    assert.equal(dsn.scheme, scheme);
    assert.equal(dsn.tls, tls);
    assert.equal(dsn.mode, "embedded");
  }
});

Deno.test("parseDsn() defaults the mode to standard and allows a trailing slash", () => {
  assert.equal(parseDsn(`grpc://dev:${KEY}@127.0.0.1:8010`).mode, "standard");
  assert.equal(parseDsn(`grpc://dev:${KEY}@127.0.0.1:8010/`).port, 8010);
  assert.equal(parseDsn(`grpc://dev:${KEY}@127.0.0.1:8010/?mode=embedded`).mode, "embedded");
  assert.equal(parseDsn(`grpc://dev:${KEY}@127.0.0.1:8010?`).mode, "standard");
});

Deno.test("parseDsn() ignores surrounding whitespace and scheme case", () => {
  const dsn = parseDsn(`  GRPCS://dev:${KEY}@use.hoop.dev:8443\n`);
  assert.equal(dsn.scheme, "grpcs");
  assert.equal(dsn.host, "use.hoop.dev");
});

Deno.test("parseDsn() accepts bracketed IPv6 hosts", () => {
  const dsn = parseDsn(`grpc://dev:${KEY}@[::1]:8010?mode=standard`);
  assert.equal(dsn.host, "::1");
  assert.equal(grpcTarget(dsn), "[::1]:8010");
  assert.equal(parseDsn(`grpc://dev:${KEY}@[fe80::1%eth0]:9`).host, "fe80::1%eth0");
});

Deno.test("parseDsn() rejects empty input", () => {
  assertRejects("", "empty", "Invalid HOOP_KEY: the value is empty");
  assertRejects("  \n", "empty", "Invalid HOOP_KEY: the value is empty");
});

Deno.test("parseDsn() rejects a missing scheme without echoing the key", () => {
  assertRejects(
    `dev:${KEY}@host:8010`,
    "scheme",
    "Invalid HOOP_KEY: missing the scheme: expected one of grpc, grpcs, http, https",
  );
  assertRejects(
    KEY,
    "scheme",
    "Invalid HOOP_KEY: missing the scheme: expected one of grpc, grpcs, http, https",
  );
});

Deno.test("parseDsn() rejects an unknown scheme", () => {
  assertRejects(
    `ftp://dev:${KEY}@host:8010`,
    "scheme",
    'Invalid HOOP_KEY: unknown scheme "ftp": expected one of grpc, grpcs, http, https',
  );
});

Deno.test("parseDsn() rejects a DSN without name and key", () => {
  assertRejects(
    "grpc://host:8010",
    "key",
    "Invalid HOOP_KEY: missing the name and auth key before the host",
  );
});

Deno.test("parseDsn() rejects an empty name", () => {
  assertRejects(`grpc://:${KEY}@host:8010`, "name", "Invalid HOOP_KEY: the name is empty");
});

Deno.test("parseDsn() rejects a name that is not a DNS label", () => {
  const rule =
    "use letters, digits and hyphens (at most 63), starting and ending with a letter or digit";
  assertRejects(
    `grpc://my_agent:${KEY}@host:8010`,
    "name",
    `Invalid HOOP_KEY: invalid name "my_agent": ${rule}`,
  );
  assertRejects(
    `grpc://-dev:${KEY}@host:8010`,
    "name",
    `Invalid HOOP_KEY: invalid name "-dev": ${rule}`,
  );
  const long = "a".repeat(64);
  assertRejects(
    `grpc://${long}:${KEY}@host:8010`,
    "name",
    `Invalid HOOP_KEY: invalid name "${long}": ${rule}`,
  );
});

Deno.test("parseDsn() rejects a missing auth key", () => {
  const message = 'Invalid HOOP_KEY: missing the auth key after the name "dev"';
  assertRejects("grpc://dev@host:8010", "key", message);
  assertRejects("grpc://dev:@host:8010", "key", message);
});

Deno.test("parseDsn() rejects a key without the xagt- prefix", () => {
  assertRejects(
    `grpc://dev:${BODY}@host:8010`,
    "key",
    'Invalid HOOP_KEY: the auth key does not start with "xagt-"',
  );
  assertRejects(
    `grpc://dev:xtok-${BODY}@host:8010`,
    "key",
    'Invalid HOOP_KEY: the auth key does not start with "xagt-"',
  );
});

Deno.test("parseDsn() rejects a key body that is not 32 bytes of base64url", () => {
  const message =
    'Invalid HOOP_KEY: the auth key is not "xagt-" followed by 43 base64url characters (32 bytes)';
  assertRejects(`grpc://dev:${KEY.slice(0, -1)}@host:8010`, "key", message);
  assertRejects(`grpc://dev:${KEY}A@host:8010`, "key", message);
  // Standard base64 ("+", "/") is not base64url.
  assertRejects(`grpc://dev:xagt-${BODY.slice(0, 40)}a+/@host:8010`, "key", message);
  // The same bytes spelled with stray trailing bits.
  assertRejects(`grpc://dev:xagt-${BODY.slice(0, 42)}9@host:8010`, "key", message);
});

Deno.test("parseDsn() rejects a missing host", () => {
  assertRejects(`grpc://dev:${KEY}@:8010`, "host", "Invalid HOOP_KEY: missing the host");
  assertRejects(`grpc://dev:${KEY}@`, "host", "Invalid HOOP_KEY: missing the host");
  assertRejects(`grpc://dev:${KEY}@[]:8010`, "host", "Invalid HOOP_KEY: missing the host");
});

Deno.test("parseDsn() rejects a malformed host", () => {
  assertRejects(
    `grpc://dev:${KEY}@bad host:8010`,
    "host",
    'Invalid HOOP_KEY: invalid host "bad host": expected a host name or IP address (IPv6 in brackets)',
  );
  assertRejects(
    `grpc://dev:${KEY}@[::1:8010`,
    "host",
    'Invalid HOOP_KEY: unclosed "[" in the host "[::1:8010"',
  );
  assertRejects(
    `grpc://dev:${KEY}@[nope]:8010`,
    "host",
    'Invalid HOOP_KEY: invalid IPv6 address "nope"',
  );
});

Deno.test("parseDsn() rejects a missing port", () => {
  const message = 'Invalid HOOP_KEY: missing the port after the host "use.hoop.dev"';
  assertRejects(`grpc://dev:${KEY}@use.hoop.dev`, "port", message);
  assertRejects(`grpc://dev:${KEY}@use.hoop.dev:`, "port", message);
  assertRejects(`grpc://dev:${KEY}@use.hoop.dev/`, "port", message);
  assertRejects(`grpc://dev:${KEY}@use.hoop.dev?mode=standard`, "port", message);
});

Deno.test("parseDsn() rejects a port that is not 1..65535 in digits", () => {
  for (const port of ["0", "65536", "-1", "+80", "80a", "1e3", "123456"]) {
    assertRejects(
      `grpc://dev:${KEY}@host:${port}`,
      "port",
      `Invalid HOOP_KEY: invalid port "${port}": expected a number from 1 to 65535`,
    );
  }
});

Deno.test("parseDsn() rejects an unknown mode", () => {
  assertRejects(
    `grpc://dev:${KEY}@host:8010?mode=turbo`,
    "mode",
    'Invalid HOOP_KEY: unknown mode "turbo": expected standard or embedded',
  );
  assertRejects(
    `grpc://dev:${KEY}@host:8010?mode=`,
    "mode",
    'Invalid HOOP_KEY: unknown mode "": expected standard or embedded',
  );
});

Deno.test("parseDsn() rejects a path after the port", () => {
  assertRejects(
    `grpc://dev:${KEY}@host:8010/api?mode=standard`,
    "path",
    'Invalid HOOP_KEY: unexpected path "/api" after the port',
  );
});

Deno.test("parseDsn() rejects unknown query parameters", () => {
  assertRejects(
    `grpc://dev:${KEY}@host:8010?mode=standard&tls=1`,
    "query",
    'Invalid HOOP_KEY: unknown parameter "tls": the only parameter is "mode"',
  );
  assertRejects(
    `grpc://dev:${KEY}@host:8010?mode=standard&mode=embedded`,
    "query",
    'Invalid HOOP_KEY: the parameter "mode" is given twice',
  );
});

Deno.test("formatDsn() round-trips through parseDsn()", () => {
  const key = generateAgentKey();
  for (const host of ["use.hoop.dev", "10.0.0.1", "::1"]) {
    const fields = {
      scheme: "grpcs",
      name: "dev",
      key,
      host,
      port: 8443,
      mode: "embedded",
    } as const;
    const text = formatDsn(fields);
    assert.deepEqual(parseDsn(text), { ...fields, tls: true });
  }
  assert.equal(
    formatDsn({ scheme: "grpc", name: "a", key: KEY, host: "::1", port: 1, mode: "standard" }),
    `grpc://a:${KEY}@[::1]:1?mode=standard`,
  );
});

Deno.test("formatDsn() refuses fields that would not parse", () => {
  assert.throws(
    () =>
      formatDsn({ scheme: "grpc", name: "a b", key: KEY, host: "h", port: 1, mode: "standard" }),
    DsnError,
  );
});

Deno.test("redactDsn() hides the key and never throws", () => {
  assert.equal(redactDsn(EXAMPLE), "grpcs://dev:xagt-***@use.hoop.dev:8443?mode=standard");
  assert.equal(redactDsn(`key is ${KEY}.`), "key is xagt-***.");
  assert.equal(redactDsn(`grpc://dev:notakey@h:1`), "grpc://dev:***@h:1");
  assert.equal(redactDsn(""), "");
  assert.equal(redactDsn("no secrets here"), "no secrets here");
  assert.equal(redactDsn(redactDsn(EXAMPLE)), redactDsn(EXAMPLE));
});

Deno.test("grpcTarget() joins host and port", () => {
  assert.equal(grpcTarget(parseDsn(EXAMPLE)), "use.hoop.dev:8443");
});

Deno.test("validateName() accepts DNS labels and explains rejections", () => {
  for (const ok of ["a", "dev", "Dev-01", "0", "a".repeat(63)]) {
    validateName("agent", ok);
    assert.ok(NAME_PATTERN.test(ok));
  }
  for (const bad of ["", "-a", "a-", "a_b", "a.b", "a b", "a".repeat(64), "é"]) {
    assert.throws(
      () => validateName("connection", bad),
      (err: unknown) =>
        err instanceof HoopError && err.code === "invalid_argument" &&
        err.message ===
          `Invalid connection name ${
            JSON.stringify(bad)
          }: use letters, digits and hyphens (at most 63), starting and ending with a letter or digit`,
    );
  }
});

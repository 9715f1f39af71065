/**
 * Fuzz tests of {@linkcode parseDsn}: a `HOOP_KEY` arrives from the
 * environment, often pasted; every rejection must be a {@linkcode DsnError}
 * that never repeats the auth key.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzText } from "./_fuzz.ts";
import { encodeBase64Url } from "./base64.ts";
import {
  DSN_MODES,
  DSN_SCHEMES,
  DsnError,
  formatDsn,
  NAME_PATTERN,
  parseDsn,
  redactDsn,
} from "./dsn.ts";
import { AGENT_KEY_PREFIX, SECRET_BYTES } from "./keys.ts";

const body = encodeBase64Url(new Uint8Array(SECRET_BYTES).map((_, i) => i * 7 + 1));
const key = `${AGENT_KEY_PREFIX}${body}`;
const DSNS = [
  `grpcs://dev:${key}@use.hoop.dev:8443?mode=standard`,
  `grpc://a-1:${key}@127.0.0.1:8010`,
  `https://x:${key}@[::1]:443/?mode=embedded`,
  `http://agent:${key}@[fe80::1%eth0]:1?mode=standard&`,
];

Deno.test("parseDsn() fuzzed: a checked DSN or a DsnError that hides the key", async () => {
  await fuzzText({
    name: "parseDsn",
    seeds: DSNS,
    expected: (err) => err instanceof DsnError,
    run(input) {
      let dsn;
      try {
        dsn = parseDsn(input);
      } catch (err) {
        // A key body copied elsewhere by a mutant (without its prefix) is not in a key slot.
        if (err instanceof DsnError && input.includes(key) && input.split(body).length === 2) {
          assert.ok(!err.message.includes(body), `the message shows the key: ${err.message}`);
          assert.ok(!(err.hint ?? "").includes(body));
        }
        throw err;
      }
      assert.ok(DSN_SCHEMES.includes(dsn.scheme));
      assert.ok(DSN_MODES.includes(dsn.mode));
      assert.ok(NAME_PATTERN.test(dsn.name));
      assert.ok(dsn.key.startsWith(AGENT_KEY_PREFIX));
      assert.ok(Number.isInteger(dsn.port) && dsn.port >= 1 && dsn.port <= 65535);
      assert.equal(dsn.tls, dsn.scheme === "grpcs" || dsn.scheme === "https");
      // What parses formats back to a DSN that parses to the same value.
      assert.deepEqual(parseDsn(formatDsn(dsn)), dsn);
      assert.ok(!redactDsn(input).includes(dsn.key.slice(AGENT_KEY_PREFIX.length)));
    },
  });
});

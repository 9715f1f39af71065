/**
 * Fuzz tests of {@linkcode parsePostgresUri} and {@linkcode redactPostgresUri}:
 * a URI comes from a flag or an agent's config; a rejection must be an
 * `invalid_argument` {@linkcode HoopError} that never repeats the password.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzText } from "./_fuzz.ts";
import { HoopError } from "./errors.ts";
import { parsePostgresUri, redactPostgresUri } from "./postgres_uri.ts";

const PASSWORD = "Pw0rdXYZ";

/** Shorter secrets turn up by chance in the rest of the message. */
const MIN_SECRET_CHARS = 4;

/**
 * The passwords `input` carries as a URL parser reads it (user info and
 * `password=` parameters). One that occurs elsewhere in the input too (a
 * mutant may copy it into the host or another parameter) is left out: its
 * other copy is not secret.
 */
function secretsOf(input: string): string[] {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return [];
  }
  const raw = [url.password, ...url.searchParams.getAll("password")];
  // The parser drops tabs and newlines, so copies are counted without them.
  const flat = input.replace(/[\t\n\r]/g, "");
  const secrets = new Set<string>();
  for (const r of raw) {
    for (const s of [r, safeDecode(r)]) {
      if (s.length >= MIN_SECRET_CHARS && flat.split(s).length === 2) secrets.add(s);
    }
  }
  return [...secrets];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
const URIS = [
  `postgres://alice:${PASSWORD}@db.example.com:5432/app?sslmode=require`,
  `postgresql://bob:${PASSWORD}@[::1]/x?connect_timeout=5&application_name=hoop`,
  `postgres://carol@localhost?password=${PASSWORD}&sslmode=verify-full&sslrootcert=system`,
  `postgres://d%40x:${PASSWORD}@h:1/db%2Fname?host=other&port=6543&user=eve&dbname=y`,
  "postgres:///db?host=/tmp",
];

Deno.test("parsePostgresUri() fuzzed: a checked URI or an invalid_argument error without the password", async () => {
  await fuzzText({
    name: "parsePostgresUri",
    seeds: URIS,
    expected: (err) => err instanceof HoopError && err.code === "invalid_argument",
    run(input) {
      const redacted = redactPostgresUri(input);
      assert.equal(typeof redacted, "string");
      let uri;
      try {
        uri = parsePostgresUri(input);
      } catch (err) {
        if (err instanceof HoopError) {
          // The URI is echoed redacted; the reason after it is fixed wording and other values.
          assert.ok(err.message.startsWith(`Cannot use PostgreSQL URI "${redacted}": `));
          for (const secret of secretsOf(input)) {
            assert.ok(!redacted.includes(secret), `the message shows the password: ${err.message}`);
          }
        }
        throw err;
      }
      assert.ok(Number.isInteger(uri.port) && uri.port >= 1 && uri.port <= 65535);
      assert.ok(uri.user !== "");
      assert.ok(uri.host !== "" && !uri.host.startsWith("/") && !uri.host.includes(","));
      assert.ok(uri.connectTimeoutMs > 0 && Number.isFinite(uri.connectTimeoutMs));
      for (const v of Object.values(uri.params)) assert.equal(typeof v, "string");
    },
  });
});

Deno.test("redactPostgresUri() hides a password key the URL parser decodes or unwraps (fuzz finding)", () => {
  for (
    const uri of [
      "postgres://a@h/db?pass%77ord=Secret1&sslmode=bad",
      "postgres://a@h/db?\npassword=Secret1&sslmode=bad",
      "postgres://a@h/db?pass\tword=Secret1&sslmode=bad",
    ]
  ) {
    assert.equal(
      parsePostgresUri(uri.replace("sslmode=bad", "sslmode=require")).password,
      "Secret1",
    );
    assert.throws(() => parsePostgresUri(uri), (err) => {
      assert.ok(err instanceof HoopError);
      assert.ok(!err.message.includes("Secret1"), err.message);
      return true;
    });
  }
});

/**
 * Fuzz test of {@linkcode parseMysqlUri}: a URI comes from a flag or an
 * agent's config; a rejection is an `invalid_argument` {@linkcode HoopError}
 * that never repeats the password.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fuzzText } from "./_fuzz.ts";
import { HoopError } from "./errors.ts";
import { parseMysqlUri } from "./mysql_uri.ts";

const PASSWORD = "Pw0rdXYZ";

/** The hint of a malformed URI: fixed text, shown whatever the input. */
const USAGE_HINT = (() => {
  try {
    parseMysqlUri("not a uri");
  } catch (err) {
    if (err instanceof HoopError && err.hint) return err.hint;
  }
  throw new Error("parseMysqlUri() accepted a malformed URI or gave no hint");
})();

/**
 * The password as a URL parser reads it, when it occurs once in the input (a
 * mutant may copy it elsewhere, and that copy is not secret) and is long
 * enough not to turn up by chance.
 */
function secretOf(input: string): string | undefined {
  let pw: string;
  try {
    pw = new URL(input).password;
  } catch {
    return undefined;
  }
  const flat = input.replace(/[\t\n\r]/g, "");
  // A "password" such as 3306 that the fixed usage hint spells too is no leak.
  if (USAGE_HINT.includes(pw)) return undefined;
  return pw.length >= 4 && flat.split(pw).length === 2 ? pw : undefined;
}

Deno.test("parseMysqlUri() fuzzed: a config or an invalid_argument without the password", async () => {
  await fuzzText({
    name: "parseMysqlUri",
    seeds: [
      `mysql://app:${PASSWORD}@127.0.0.1:3306/app`,
      `mysql://app:${PASSWORD}@[::1]/app?ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/ca.pem`,
      `mariadb://app@db.internal:3307/?ssl-mode=DISABLED`,
    ],
    expected: (err) => err instanceof HoopError && err.code === "invalid_argument",
    run(input) {
      let u;
      try {
        u = parseMysqlUri(input);
      } catch (err) {
        const secret = secretOf(input);
        if (secret && err instanceof HoopError) {
          assert.ok(!`${err.message} ${err.hint ?? ""}`.includes(secret), "the password leaked");
        }
        throw err;
      }
      assert.equal(typeof u.host, "string");
      assert.ok(u.host.length > 0);
      assert.ok(Number.isInteger(u.port) && u.port > 0 && u.port < 65536);
    },
  });
});

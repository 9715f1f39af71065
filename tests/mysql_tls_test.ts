/**
 * The agent's TLS to a MySQL server per `ssl-mode`, against a real MariaDB
 * serving TLS with a test CA, for an account that `REQUIRE SSL` (so a login
 * without TLS is refused by the server itself), shown with `hoop exec`.
 */
import assert from "node:assert/strict";
import { hoop, hoopOk, signupAdmin, startAgent, startGateway } from "./_harness.ts";
import { haveMariaDb, startMariaDb } from "./_mariadb.ts";
import { makeTestCerts } from "./_tls.ts";

const HAVE = await haveMariaDb();
if (!HAVE) console.warn("mysql_tls_test skipped: mariadbd is not installed");

Deno.test({
  name: "ssl-mode: REQUIRED, PREFERRED, VERIFY_CA and VERIFY_IDENTITY use TLS; DISABLED does not",
  ignore: !HAVE,
  async fn(t) {
    await using certs = await makeTestCerts();
    await using db = await startMariaDb({ tls: certs });
    await using plain = await startMariaDb();
    const url = await db.createUser("tlsapp", "tls-Secret-pw-3", { db: "app", requireSsl: true });
    const plainUrl = await plain.createUser("app", "app-Secret-pw-1", { db: "app" });
    await using gw = await startGateway();
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout
      .trim();
    await using _agent = await startAgent(key);
    const create = (name: string, uri: string) =>
      hoopOk(["admin", "create", "connection", name, "--agent", "dev", "--mysql", uri], {
        env: admin.env,
      });
    const cipher = "SHOW STATUS LIKE 'Ssl_cipher'";
    const ca = encodeURIComponent(certs.caCertFile);

    for (
      const [name, query] of [
        ["required", "ssl-mode=REQUIRED"],
        ["preferred", ""],
        ["verify-ca", `ssl-mode=VERIFY_CA&ssl-ca=${ca}`],
        ["verify-id", `ssl-mode=VERIFY_IDENTITY&ssl-ca=${ca}`],
      ]
    ) {
      await t.step(`${name}: the session runs over TLS`, async () => {
        await create(name, query ? `${url}?${query}` : url);
        const r = await hoopOk(["exec", name, "-i", cipher, "-o", "csv"], { env: admin.env });
        assert.match(r.stdout, /^Variable_name,Value\nSsl_cipher,[A-Z0-9_-]+\n$/);
      });
    }

    await t.step("DISABLED: the server refuses the REQUIRE SSL account", async () => {
      await create("disabled", `${url}?ssl-mode=DISABLED`);
      const r = await hoop(["exec", "disabled", "-i", "SELECT 1"], { env: admin.env });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /connection disabled: Access denied for user 'tlsapp'/);
    });

    await t.step("VERIFY_CA with another CA: the certificate is refused", async () => {
      await using other = await makeTestCerts();
      const otherCa = encodeURIComponent(other.caCertFile);
      await create("wrong-ca", `${url}?ssl-mode=VERIFY_CA&ssl-ca=${otherCa}`);
      const r = await hoop(["exec", "wrong-ca", "-i", "SELECT 1"], { env: admin.env });
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /could not set up TLS with 127\.0\.0\.1:\d+: .*(certificate|Unknown)/i,
      );
    });

    await t.step("REQUIRED against a server without TLS: refused, naming ssl-mode", async () => {
      await create("plain-req", `${plainUrl}?ssl-mode=REQUIRED`);
      const r = await hoop(["exec", "plain-req", "-i", "SELECT 1"], { env: admin.env });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /the server does not support SSL, but ssl-mode is REQUIRED/);
    });
  },
});

import assert from "node:assert/strict";
import { freePort, hoopOk, signupAdmin, spawnHoop, startGateway } from "../../tests/_harness.ts";
import { POSTGRES_SKIP_REASON, psqlThrough, startPostgres } from "../../tests/_postgres.ts";

if (POSTGRES_SKIP_REASON) console.warn(`PostgreSQL tests ignored: ${POSTGRES_SKIP_REASON}`);

/** psql straight to the gateway's listener: user = hoop email, database = connection name. */
function psqlListener(port: number, user: string, password: string, sql: string) {
  return psqlThrough(port, sql, {
    args: ["-At"],
    user,
    database: "pgdemo",
    env: { PGPASSWORD: password, PGSSLMODE: "prefer" },
  });
}

Deno.test({
  name: "the gateway's PostgreSQL listener logs a hoop user in to a connection",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    await using pg = await startPostgres();
    const appUrl = await pg.createUser("app", "app-pw", "app");
    const pgPort = freePort();
    await using gw = await startGateway({ args: ["--postgres-listen", `127.0.0.1:${pgPort}`] });
    const admin = await signupAdmin(gw);
    const orgKey = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
    await using run = spawnHoop("run pgdemo", ["run", "--name", "pgdemo", "--postgres", appUrl], {
      env: { HOOP_KEY: orgKey },
    });
    await run.log.waitFor(/connected to the gateway/);

    await t.step(
      "the account password logs in; SSLRequest is refused and psql goes on",
      async () => {
        const r = await psqlListener(pgPort, admin.email, admin.password, "select current_user");
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), "app");
      },
    );

    await t.step("a wrong password is refused as PostgreSQL refuses it", async () => {
      const r = await psqlListener(pgPort, admin.email, "wrong", "select 1");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /password authentication failed for user "admin@example\.com"/);
    });
  },
});

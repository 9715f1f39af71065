import tls from "node:tls";
import assert from "node:assert/strict";
import postgres from "postgres";
import { POSTGRES_SKIP_REASON, startPostgres } from "./_postgres.ts";

if (POSTGRES_SKIP_REASON) console.warn(`PostgreSQL tests ignored: ${POSTGRES_SKIP_REASON}`);

function connect(url: string) {
  return postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
}

Deno.test({
  name: "startPostgres() serves password-authenticated databases and users",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn(t) {
    await using pg = await startPostgres();

    await t.step("the admin URL connects with its password", async () => {
      const sql = connect(pg.adminUrl);
      try {
        const [row] = await sql`select current_user as u`;
        assert.equal(row.u, "hoop_admin");
      } finally {
        await sql.end({ timeout: 1 });
      }
    });

    await t.step("a wrong password is refused", async () => {
      const u = new URL(pg.adminUrl);
      u.password = "wrong";
      const sql = connect(u.href);
      try {
        await assert.rejects(sql`select 1`, /password authentication failed/);
      } finally {
        await sql.end({ timeout: 1 });
      }
    });

    await t.step("createDatabase() and createUser() return working URLs", async () => {
      const db = `t_${crypto.randomUUID().slice(0, 8)}`;
      const dbUrl = await pg.createDatabase(db);
      const user = `u_${crypto.randomUUID().slice(0, 8)}`;
      const userUrl = await pg.createUser(user, "s3cret'pw", `${user}_db`);
      for (const [url, want] of [[dbUrl, db], [userUrl, `${user}_db`]]) {
        const sql = connect(url);
        try {
          const [row] = await sql`select current_database() as d`;
          assert.equal(row.d, want);
        } finally {
          await sql.end({ timeout: 1 });
        }
      }
      if (!Deno.env.get("HOOP_TEST_DATABASE_URL")) {
        const sql = connect(pg.adminUrl);
        try {
          const [row] = await sql`select rolpassword from pg_authid where rolname = ${user}`;
          assert.match(row.rolpassword, /^SCRAM-SHA-256\$/);
        } finally {
          await sql.end({ timeout: 1 });
        }
      }
    });
  },
});

Deno.test({
  name: "startPostgres() with ssl serves TLS",
  ignore: POSTGRES_SKIP_REASON !== undefined,
  async fn() {
    await using pg = await startPostgres({ ssl: true });
    assert.ok(pg.certFile && pg.caFile);
    const sql = postgres(pg.adminUrl, {
      max: 1,
      onnotice: () => {},
      ssl: {
        ca: await Deno.readTextFile(pg.caFile),
        rejectUnauthorized: true,
        // npm:postgres names the server "localhost"; the certificate is for the IP it dials.
        checkServerIdentity: (_host: string, cert: tls.PeerCertificate) =>
          tls.checkServerIdentity("127.0.0.1", cert),
      },
    });
    try {
      const [row] = await sql`select ssl from pg_stat_ssl where pid = pg_backend_pid()`;
      assert.equal(row.ssl, true);
    } finally {
      await sql.end({ timeout: 1 });
    }
  },
});

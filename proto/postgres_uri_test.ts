import assert from "node:assert/strict";
import { HoopError } from "./errors.ts";
import { parsePostgresUri, redactPostgresUri } from "./postgres_uri.ts";

Deno.test("parsePostgresUri() reads user, password, host, port, database and parameters", () => {
  const u = parsePostgresUri(
    "postgres://app:p%40ss%2Fw@db.internal:6543/sales?sslmode=require&application_name=x&connect_timeout=3",
  );
  assert.deepEqual(u, {
    host: "db.internal",
    port: 6543,
    user: "app",
    password: "p@ss/w",
    database: "sales",
    sslmode: "require",
    sslrootcert: undefined,
    connectTimeoutMs: 3000,
    params: { application_name: "x" },
  });
});

Deno.test("parsePostgresUri() applies libpq's defaults", () => {
  const u = parsePostgresUri("postgresql://app@127.0.0.1");
  assert.equal(u.port, 5432);
  assert.equal(u.database, "app");
  assert.equal(u.password, "");
  assert.equal(u.sslmode, "prefer");
  assert.equal(parsePostgresUri("postgres://a@[::1]:5433/d").host, "::1");
});

Deno.test("parsePostgresUri() rejects malformed URIs without echoing the password", () => {
  const cases: [string, RegExp][] = [
    ["mysql://app:hunter2@h/db", /scheme is not "postgres:\/\/"/],
    ["postgres://:hunter2@h/db", /names no user/],
    ["postgres://app:hunter2@h:99999/db", /not a valid URI|port "99999" is invalid/],
    ["postgres://app:hunter2@h/db?sslmode=sometimes", /sslmode "sometimes" is not one of/],
    ["postgres://app:hunter2@h/db?sslcert=/c.pem", /"sslcert" is not supported/],
    ["postgres://app:hunter2@h/db?host=/var/run/postgresql", /Unix-domain sockets/],
    ["postgres://app@h/db?password=hunter2&connect_timeout=soon", /connect_timeout "soon"/],
  ];
  for (const [uri, re] of cases) {
    assert.throws(() => parsePostgresUri(uri), (err: unknown) => {
      assert.ok(err instanceof HoopError);
      assert.equal(err.code, "invalid_argument");
      assert.match(err.message, re);
      assert.ok(!err.message.includes("hunter2"), err.message);
      return true;
    });
  }
});

Deno.test("redactPostgresUri() hides passwords in user info and parameters", () => {
  assert.equal(redactPostgresUri("postgres://app:se@cret@h/db"), "postgres://app:***@h/db");
  assert.equal(
    redactPostgresUri("postgres://app@h/db?password=x&a=b"),
    "postgres://app@h/db?password=***&a=b",
  );
});

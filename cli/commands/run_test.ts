import assert from "node:assert/strict";
import { HoopError } from "../../proto/errors.ts";
import { captureContext } from "../context.ts";
import { embeddedConnection } from "./run.ts";

Deno.test("embeddedConnection() refuses a bad sslmode or port without showing the password", () => {
  const { ctx } = captureContext({ env: {} });
  const cases: [string, RegExp][] = [
    ["postgres://app:hunter2@db/app?sslmode=sometimes", /sslmode "sometimes" is not one of/],
    ["postgres://app:hunter2@db:0/app", /the port "0" is invalid/],
  ];
  for (const [uri, re] of cases) {
    assert.throws(() => embeddedConnection(ctx, { name: "pg", postgres: uri }), (err: unknown) => {
      assert.ok(err instanceof HoopError);
      assert.equal(err.code, "invalid_argument");
      assert.equal(err.exitCode, 2);
      assert.match(err.message, re);
      assert.ok(!err.message.includes("hunter2"), err.message);
      return true;
    });
  }
});

Deno.test("embeddedConnection() publishes a redacted URI and keeps PGPASSWORD on the agent", () => {
  const { ctx } = captureContext({ env: { PGPASSWORD: "s3cret" } });
  const c = embeddedConnection(ctx, { name: "pg", postgres: "postgres://app@db/app" });
  assert.equal(c.type, "postgres");
  assert.equal(c.config.uri, "postgres://app:s3cret@db/app");
  assert.equal(c.publicConfig.uri, "postgres://app:***@db/app");
});

import assert from "node:assert/strict";
import { redact, redactConfig } from "./redact.ts";

Deno.test("redact() hides secret URI and libpq parameters (issue #10)", () => {
  assert.equal(
    redact("postgres://app@db/app?sslmode=require&password=s3cret&x=1"),
    "postgres://app@db/app?sslmode=require&password=***&x=1",
  );
  assert.equal(redact("postgres://db/app?sslpassword=k3y"), "postgres://db/app?sslpassword=***");
  assert.equal(redact("postgres://db/app?PassWord=x"), "postgres://db/app?PassWord=***");
  assert.equal(redact("postgres://db/app?pass%77ord=x"), "postgres://db/app?pass%77ord=***");
  assert.equal(
    redact("host=db user=app password=s3cret dbname=x"),
    "host=db user=app password=*** dbname=x",
  );
  assert.equal(redact("a passwordless login"), "a passwordless login");
});

Deno.test("redact() hides user info, agent keys and tokens; keepKeyPrefix keeps xagt-", () => {
  assert.equal(redact("postgres://app:s3cret@db:5432/app"), "postgres://app:***@db:5432/app");
  assert.equal(redact("postgres://app:se@cret@db/app"), "postgres://app:***@db/app");
  assert.equal(redact("grpc://dev:xagt-abc@gw:1"), "grpc://dev:***@gw:1");
  assert.equal(
    redact("grpc://dev:xagt-abc@gw:1", { keepKeyPrefix: true }),
    "grpc://dev:xagt-***@gw:1",
  );
  assert.equal(redact("xagt-abc and xtok-def"), "xagt-*** and xtok-***");
  assert.equal(redact(redact("xtok-def")), "xtok-***");
});

Deno.test("redactConfig() hides secret-named entries and redacts every value", () => {
  assert.deepEqual(
    redactConfig({
      uri: "postgres://app@db/app?password=s3cret",
      password: "plain",
      api_token: "t",
      host: "db",
    }),
    { uri: "postgres://app@db/app?password=***", password: "***", api_token: "***", host: "db" },
  );
});

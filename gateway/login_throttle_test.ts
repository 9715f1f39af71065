import assert from "node:assert/strict";
import { HoopError } from "../proto/errors.ts";
import {
  FREE_LOGIN_FAILURES_PER_ACCOUNT,
  FREE_LOGIN_FAILURES_PER_ADDRESS,
  LOGIN_BACKOFF_MAX_MS,
  LOGIN_FAILURE_MEMORY_MS,
  LoginThrottle,
} from "./login_throttle.ts";

function clock() {
  const c = { t: 1_000_000, now: () => c.t };
  return c;
}

function refusal(fn: () => void): HoopError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof HoopError);
    return err;
  }
}

Deno.test("LoginThrottle lets a few failures pass, then doubles the wait", () => {
  const c = clock();
  const th = new LoginThrottle({ now: c.now });
  for (let i = 0; i < FREE_LOGIN_FAILURES_PER_ACCOUNT; i++) {
    th.check("a@example.com", "10.0.0.1");
    th.failed("a@example.com", "10.0.0.1");
  }
  th.check("a@example.com", "10.0.0.1"); // still free
  th.failed("a@example.com", "10.0.0.1");
  const err = refusal(() => th.check("A@example.com", "10.0.0.2"));
  assert.equal(err?.code, "resource_exhausted");
  assert.equal(err?.retryAfterSeconds, 1);
  assert.equal(err?.httpStatus, 429);
  assert.match(err?.message ?? "", /^Too many failed logins: try again in 1 s$/);
  c.t += 1_000;
  th.check("a@example.com", "10.0.0.1");
  th.failed("a@example.com", "10.0.0.1");
  assert.equal(refusal(() => th.check("a@example.com", "10.0.0.1"))?.retryAfterSeconds, 2);
});

Deno.test("LoginThrottle: another account on another address is not slowed", () => {
  const th = new LoginThrottle({ now: clock().now });
  for (let i = 0; i < 10; i++) th.failed("victim@example.com", "10.0.0.66");
  assert.ok(refusal(() => th.check("victim@example.com", "10.0.0.66")));
  assert.equal(refusal(() => th.check("other@example.com", "10.0.0.7")), undefined);
});

Deno.test("LoginThrottle counts one address across accounts", () => {
  const th = new LoginThrottle({ now: clock().now });
  for (let i = 0; i <= FREE_LOGIN_FAILURES_PER_ADDRESS; i++) {
    th.failed(`user${i}@example.com`, "10.9.9.9");
  }
  assert.ok(refusal(() => th.check("fresh@example.com", "10.9.9.9")));
  assert.equal(refusal(() => th.check("fresh@example.com", "10.9.9.8")), undefined);
});

Deno.test("LoginThrottle caps the wait, forgets old failures, and clears on success", async () => {
  const c = clock();
  const th = new LoginThrottle({ now: c.now });
  for (let i = 0; i < 60; i++) th.failed("a@example.com", "10.0.0.1");
  assert.equal(
    refusal(() => th.check("a@example.com", "10.0.0.2"))?.retryAfterSeconds,
    LOGIN_BACKOFF_MAX_MS / 1000,
  );
  c.t += LOGIN_FAILURE_MEMORY_MS + 1;
  assert.equal(refusal(() => th.check("a@example.com", "10.0.0.1")), undefined);
  for (let i = 0; i < 3; i++) th.failed("b@example.com", "10.0.0.3");
  const ok = await th.guard("b@example.com", "10.0.0.3", () => Promise.resolve("user"));
  assert.equal(ok, "user");
  for (let i = 0; i < FREE_LOGIN_FAILURES_PER_ACCOUNT; i++) th.failed("b@example.com", "10.0.0.4");
  assert.equal(refusal(() => th.check("b@example.com", "10.0.0.4")), undefined, "count restarted");
});

import assert from "node:assert/strict";
import { Hono } from "hono";
import type { ApiContext } from "./_context.ts";
import { csrfTokenFor, sessionCookieOf } from "./_web_cookie.ts";

function cookieOf(header: string | undefined): Promise<string | undefined> {
  const app = new Hono();
  let got: string | undefined;
  app.get("/", (c) => {
    got = sessionCookieOf(c);
    return c.body(null, 204);
  });
  const headers: Record<string, string> = header === undefined ? {} : { cookie: header };
  return Promise.resolve(app.request("/", { headers })).then(() => got);
}

Deno.test("sessionCookieOf() finds hoop_session among other cookies", async () => {
  assert.equal(await cookieOf(undefined), undefined);
  assert.equal(await cookieOf("a=1; hoop_session=xtok-abc; b=2"), "xtok-abc");
  assert.equal(await cookieOf("hoop_session=xtok-abc"), "xtok-abc");
  assert.equal(await cookieOf("hoop_session_old=xtok-no; other=1"), undefined);
  assert.equal(await cookieOf("hoop_session="), undefined);
  assert.equal(await cookieOf("garbage"), undefined);
});

Deno.test("csrfTokenFor() is stable per gateway and token, and differs across both", async () => {
  // Only the context's identity matters to the CSRF key.
  const a = {} as ApiContext;
  const b = {} as ApiContext;
  const t1 = await csrfTokenFor(a, "token-1");
  assert.match(t1, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(await csrfTokenFor(a, "token-1"), t1);
  assert.notEqual(await csrfTokenFor(a, "token-2"), t1);
  assert.notEqual(await csrfTokenFor(b, "token-1"), t1, "another gateway process, another key");
});

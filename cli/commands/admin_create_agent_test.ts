import assert from "node:assert/strict";
import { json, startFakeApi } from "../_fake_api.ts";
import { captureContext } from "../context.ts";
import { runCli } from "../main.ts";

const DSN =
  "grpc://dev:xagt-mzv7CRgUs23TgHpk0XNmll0TO37qfwM0D3JGQpwGPa8@127.0.0.1:8010?mode=standard";

Deno.test("hoop admin create agent prints only the DSN on stdout (fake API)", async () => {
  await using fake = startFakeApi(() =>
    json({ agent: { id: "a1", name: "dev", mode: "standard" }, dsn: DSN }, 201)
  );
  const cap = captureContext({ env: { HOOP_API_URL: fake.url, HOOP_TOKEN: "xtok-admin" } });
  const code = await runCli(["admin", "create", "agent", "dev"], cap.ctx);
  assert.equal(code, 0);
  assert.equal(cap.stdout(), DSN + "\n");
  assert.equal(cap.stderr(), "");
  assert.equal(fake.requests.length, 1);
  assert.equal(fake.requests[0].method, "POST");
  assert.equal(fake.requests[0].path, "/api/agents");
  assert.equal(fake.requests[0].authorization, "Bearer xtok-admin");
  assert.deepEqual(fake.requests[0].body, { name: "dev" });
});

Deno.test("hoop admin create agent sends --mode and rejects an unknown mode before calling the API (fake API)", async () => {
  await using fake = startFakeApi(() => json({ agent: {}, dsn: DSN }, 201));
  const env = { HOOP_API_URL: fake.url, HOOP_TOKEN: "t" };
  const ok = captureContext({ env });
  assert.equal(await runCli(["admin", "create", "agent", "app", "--mode", "embedded"], ok.ctx), 0);
  assert.deepEqual(fake.requests[0].body, { name: "app", mode: "embedded" });

  const bad = captureContext({ env });
  assert.equal(await runCli(["admin", "create", "agent", "app", "--mode", "turbo"], bad.ctx), 2);
  assert.match(
    bad.stderr(),
    /^hoop admin create agent: unknown mode "turbo": choose one of standard, embedded\n/,
  );
  assert.equal(fake.requests.length, 1);
});

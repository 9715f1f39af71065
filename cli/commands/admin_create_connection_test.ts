import assert from "node:assert/strict";
import { json, startFakeApi } from "../_fake_api.ts";
import { captureContext } from "../context.ts";
import { runCli } from "../main.ts";
import { parseHostPort } from "./admin_create_connection.ts";

Deno.test("parseHostPort() accepts host:port and [ipv6]:port and rejects bad ports", () => {
  assert.deepEqual(parseHostPort("10.0.0.5:5432"), { host: "10.0.0.5", port: 5432 });
  assert.deepEqual(parseHostPort("[::1]:22"), { host: "::1", port: 22 });
  assert.throws(() => parseHostPort("db:0"), /expected HOST:PORT with a port 1-65535/);
  assert.throws(() => parseHostPort("db"), /expected HOST:PORT/);
});

Deno.test("hoop admin create connection sends the type and config of the one type flag (fake API)", async () => {
  await using fake = startFakeApi((req) => json({ connection: req.body }, 201));
  const env = { HOOP_API_URL: fake.url, HOOP_TOKEN: "t" };
  const cases: [string[], unknown][] = [
    [["--postgres", "postgres://u:p@db/app", "--groups", "dba, dev"], {
      name: "c",
      agent: "dev",
      type: "postgres",
      config: { uri: "postgres://u:p@db/app" },
      groups: ["dba", "dev"],
    }],
    [["--tcp", "web:8080"], {
      name: "c",
      agent: "dev",
      type: "tcp",
      config: { host: "web", port: 8080 },
    }],
    [["--command", "bash -l"], {
      name: "c",
      agent: "dev",
      type: "command",
      config: { command: "bash -l" },
    }],
  ];
  for (const [flags, body] of cases) {
    const cap = captureContext({ env });
    const code = await runCli(
      ["admin", "create", "connection", "c", "--agent", "dev", ...flags],
      cap.ctx,
    );
    assert.equal(code, 0, cap.stderr());
    assert.deepEqual(fake.requests.at(-1)?.body, body);
    assert.equal(cap.stdout(), "");
    assert.match(cap.stderr(), /^Created connection "c" \(\w+\) on agent "dev"\n$/);
  }
  const none = captureContext({ env });
  assert.equal(await runCli(["admin", "create", "connection", "c", "--agent", "dev"], none.ctx), 2);
  assert.match(
    none.stderr(),
    /a connection type is needed: pass one of --postgres, --mysql, --tcp, --command/,
  );
});

Deno.test("hoop admin create connection refuses a bad sslmode or port before calling the API", async () => {
  await using fake = startFakeApi((req) => json({ connection: req.body }, 201));
  const env = { HOOP_API_URL: fake.url, HOOP_TOKEN: "t" };
  const cases: [string, RegExp][] = [
    ["postgres://app:hunter2@db/app?sslmode=sometimes", /sslmode "sometimes" is not one of/],
    ["postgres://app:hunter2@db:70000/app", /port|not a valid URI/],
    ["postgres://app:hunter2@db:0/app", /the port "0" is invalid/],
  ];
  for (const [uri, re] of cases) {
    const cap = captureContext({ env });
    const code = await runCli(
      ["admin", "create", "connection", "c", "--agent", "dev", "--postgres", uri],
      cap.ctx,
    );
    assert.equal(code, 2, cap.stderr());
    assert.match(cap.stderr(), re);
    assert.ok(!cap.stderr().includes("hunter2"), cap.stderr());
  }
  assert.equal(fake.requests.length, 0);
});

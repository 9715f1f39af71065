/**
 * Issue #11: connections published by `hoop run` had no groups and nothing
 * could give them one, so only admins could use them. An admin sets any
 * connection's groups, and they survive the agent's reconnects and restarts.
 */
import assert from "node:assert/strict";
import {
  createUser,
  hoop,
  hoopOk,
  type Identity,
  parseTable,
  signupAdmin,
  spawnHoop,
  startGateway,
  waitFor,
} from "./_harness.ts";

async function visibleTo(who: Identity): Promise<string[]> {
  const r = await hoopOk(["admin", "get", "connections"], { env: who.env });
  return parseTable(r.stdout).map((row) => `${row.NAME}:${row.GROUPS}`);
}

Deno.test("an admin gives a hoop run connection groups that outlive its agent", async (t) => {
  await using gw = await startGateway();
  const admin = await signupAdmin(gw);
  const dev = await createUser(gw, admin, "dev@example.com", { groups: ["web"] });
  const orgKey = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
  const publish = () => {
    const p = spawnHoop("hoop run", ["run", "--name", "py", "--command", "python3 -i"], {
      env: { HOOP_KEY: orgKey },
    });
    return p.log.waitFor(/connected to the gateway/).then(() => p);
  };
  let run = await publish();
  try {
    await t.step("published with no groups: only admins see it", async () => {
      assert.deepEqual(await visibleTo(admin), ["py:-"]);
      assert.deepEqual(await visibleTo(dev), []);
      const denied = await hoop(["exec", "py", "-i", "print(1)"], { env: dev.env });
      assert.notEqual(denied.code, 0);
    });

    await t.step("hoop admin update connection --groups lets the group in", async () => {
      const r = await hoopOk(["admin", "update", "connection", "py", "--groups", "web,ops"], {
        env: admin.env,
      });
      assert.match(r.stderr, /Updated connection "py": groups web,ops/);
      assert.deepEqual(await visibleTo(dev), ["py:web,ops"]);
      const ok = await hoop(["exec", "py", "-i", "print(6*7)"], { env: dev.env });
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), "42");
    });

    await t.step("the agent restarts: the groups stay", async () => {
      await run.stop();
      run = await publish();
      await waitFor(async () => (await visibleTo(dev)).includes("py:web,ops"), {
        timeoutMs: 10_000,
        message: "py still visible to dev with its groups",
      });
      const ok = await hoop(["exec", "py", "-i", "print(1+1)"], { env: dev.env });
      assert.equal(ok.stdout.trim(), "2", ok.stderr);
    });

    await t.step("only admins may change groups; unknown names are named", async () => {
      const r = await hoop(["admin", "update", "connection", "py", "--groups", "x"], {
        env: dev.env,
      });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /admin/);
      const missing = await hoop(["admin", "update", "connection", "nope", "--groups", "x"], {
        env: admin.env,
      });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /Cannot update connection "nope": no connection with that name/);
      const usage = await hoop(["admin", "update", "connection", "py"], { env: admin.env });
      assert.equal(usage.code, 2);
    });
  } finally {
    await run.stop();
  }
});

/**
 * Issue #10's limits on what one user can make the gateway and an agent hold,
 * and tickets that only their own side can spend.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeAll } from "../proto/bytes.ts";
import { DataRefusedError, dialDataPort } from "../proto/data_dial.ts";
import { DataSide } from "../proto/data_header.ts";
import { encodeFrame, FrameType } from "../proto/frames.ts";
import { MAX_PENDING_SESSIONS_PER_USER } from "../gateway/broker/mod.ts";
import { hoopOk, signupAdmin, startAgent, startGateway } from "./_harness.ts";

interface Opened {
  session_id: string;
  ticket: string;
  data_addr: string;
}

Deno.test("one user's unattached sessions are bounded, and a ticket works only on its own side", async (t) => {
  await using gw = await startGateway();
  const admin = await signupAdmin(gw);
  const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout.trim();
  await using _agent = await startAgent(key);
  await hoopOk(["admin", "create", "connection", "sh", "--agent", "dev", "--command", "cat"], {
    env: admin.env,
  });
  const token = JSON.parse(await Deno.readTextFile(join(admin.env.HOOP_HOME, "config.json")))
    .token as string;
  const open = () =>
    fetch(`${gw.apiUrl}/api/sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ connection: "sh", verb: "exec" }),
    });

  await t.step("a ticket presented on the wrong side is refused and stays good", async () => {
    const res = await open();
    assert.equal(res.status, 201);
    const s = await res.json() as Opened;
    await assert.rejects(
      dialDataPort({ addr: s.data_addr, tls: false }, DataSide.AGENT, s.ticket, {
        pairWaitMs: 5_000,
      }),
      (err: unknown) =>
        err instanceof DataRefusedError && /unknown or expired ticket/.test(err.reason),
    );
    const conn = await dialDataPort({ addr: s.data_addr, tls: false }, DataSide.CLIENT, s.ticket, {
      pairWaitMs: 10_000,
    });
    await writeAll(conn, encodeFrame(FrameType.STDIN, new TextEncoder().encode("hi")));
    await writeAll(conn, encodeFrame(FrameType.STDIN_EOF));
    const buf = new Uint8Array(64);
    let got = 0;
    while (got < 7) {
      const n = await conn.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    conn.close();
    // STDOUT frame: type 2, length 2, "hi".
    assert.deepEqual([...buf.subarray(0, 7)], [FrameType.STDOUT, 0, 0, 0, 2, 104, 105]);
  });

  await t.step(`at most ${MAX_PENDING_SESSIONS_PER_USER} sessions wait unattached`, async () => {
    const answers = await Promise.all(
      Array.from({ length: MAX_PENDING_SESSIONS_PER_USER }, () => open()),
    );
    for (const a of answers) {
      assert.equal(a.status, 201);
      await a.body?.cancel();
    }
    const over = await open();
    assert.equal(over.status, 413);
    const body = await over.json() as { error: { code: string; message: string } };
    assert.equal(body.error.code, "resource_exhausted");
    assert.match(body.error.message, /sessions are still waiting for their data connections/);
    assert.equal(gw.hasExited(), false);
  });
});

Deno.test("concurrent first signups make one admin, and password guessing is slowed", async (t) => {
  await using gw = await startGateway();
  const post = (path: string, body: unknown) =>
    fetch(`${gw.apiUrl}/api/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  await t.step("10 signups at once on a fresh gateway: exactly one succeeds", async () => {
    const answers = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) =>
          post("signup", { email: `admin${i}@example.com`, password: "correct-horse-battery" }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    for (const a of answers) await a.body?.cancel();
    assert.deepEqual(statuses, [201, ...Array(9).fill(403)]);
  });

  const winner = await (async () => {
    for (let i = 0; i < 10; i++) {
      const r = await post("login", {
        email: `admin${i}@example.com`,
        password: "correct-horse-battery",
      });
      await r.body?.cancel();
      if (r.status === 200) return `admin${i}@example.com`;
    }
    throw new Error("no admin can log in");
  })();

  await t.step("wrong passwords for one account: 401s, then 429 with Retry-After", async () => {
    const seen: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const r = await post("login", { email: winner, password: `guess-${i}-wrong` });
      seen.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get("retry-after");
      await r.body?.cancel();
    }
    assert.deepEqual(seen.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.ok(seen.includes(429), `statuses: ${seen}`);
    assert.match(retryAfter ?? "", /^[0-9]+$/);
    // The same account, even with the right password, waits too.
    const right = await post("login", { email: winner, password: "correct-horse-battery" });
    assert.equal(right.status, 429);
    const body = await right.json() as { error: { code: string; message: string } };
    assert.equal(body.error.code, "resource_exhausted");
    assert.match(body.error.message, /Too many failed logins: try again in \d+ s/);
  });
});

/**
 * Issue #10: a user with access to a command connection could end the whole
 * gateway with one malformed exec/console frame on their own data connection.
 * Each hostile input now ends only that session, recorded as `error` with a
 * reason, while the gateway serves everyone else.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeAll } from "../proto/bytes.ts";
import { dialDataPort } from "../proto/data_dial.ts";
import { DataSide } from "../proto/data_header.ts";
import { FrameType } from "../proto/frames.ts";
import { hoop, hoopOk, signupAdmin, startAgent, startGateway, waitFor } from "./_harness.ts";

/** Frames no honest client sends. */
const HOSTILE: { name: string; bytes: Uint8Array }[] = [
  { name: "an absurd length", bytes: new Uint8Array([FrameType.STDIN, 0xff, 0xff, 0xff, 0xff]) },
  { name: "a header cut short", bytes: new Uint8Array([FrameType.STDIN, 0x00, 0x00]) },
  { name: "a payload cut short", bytes: new Uint8Array([FrameType.STDIN, 0, 0, 0, 9, 0x41]) },
  {
    name: "a resize of three bytes",
    bytes: new Uint8Array([FrameType.RESIZE, 0, 0, 0, 3, 1, 2, 3]),
  },
];

async function readToEnd(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(4096);
  try {
    while ((await conn.read(buf)) !== null) {
      // Drain whatever the agent said before the gateway cut the session.
    }
  } catch {
    // A reset is an end too.
  }
}

Deno.test("hostile exec frames end only their own session, never the gateway", async (t) => {
  await using gw = await startGateway();
  const admin = await signupAdmin(gw);
  const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout.trim();
  await using agent = await startAgent(key);
  await hoopOk(["admin", "create", "connection", "sh", "--agent", "dev", "--command", "cat"], {
    env: admin.env,
  });
  const token = JSON.parse(await Deno.readTextFile(join(admin.env.HOOP_HOME, "config.json")))
    .token as string;

  for (const hostile of HOSTILE) {
    await t.step(`${hostile.name}: the session ends with a recorded reason`, async () => {
      const res = await fetch(`${gw.apiUrl}/api/sessions`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ connection: "sh", verb: "exec" }),
      });
      assert.equal(res.status, 201);
      const opened = await res.json() as { session_id: string; ticket: string; data_addr: string };
      const conn = await dialDataPort(
        { addr: opened.data_addr, tls: false },
        DataSide.CLIENT,
        opened.ticket,
        { pairWaitMs: 10_000 },
      );
      await writeAll(conn, hostile.bytes);
      await conn.closeWrite();
      await readToEnd(conn);
      conn.close();
      const session = await waitFor(async () => {
        const r = await hoopOk(["admin", "get", "session", opened.session_id, "-o", "json"], {
          env: admin.env,
        });
        const s = JSON.parse(r.stdout).session as { status: string; error: string | null };
        return s.status === "open" ? undefined : s;
      }, { timeoutMs: 10_000, message: `session ${opened.session_id} closed` });
      assert.equal(session?.status, "error");
      assert.match(
        session?.error ?? "",
        /client's data connection failed: Cannot (read frame|parse)/,
      );
      assert.equal(gw.hasExited(), false, gw.log.text);
    });
  }

  await t.step("the gateway and agent still serve everyone else", async () => {
    const r = await hoop(["exec", "sh", "-i", "still here"], { env: admin.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "still here");
    assert.equal(agent.hasExited(), false);
  });
});

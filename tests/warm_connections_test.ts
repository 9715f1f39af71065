/**
 * Warm data connections (issue 15): after its first session an agent keeps
 * already-dialed connections parked on the gateway's data port, the next
 * session takes one, and a stranger cannot park one without a warm key.
 * Parked connections are read off /proc/net/tcp (IPv4 loopback sockets whose
 * remote port is the data port).
 */
import assert from "node:assert/strict";
import { generateTicket } from "../proto/keys.ts";
import { writeAll } from "../proto/bytes.ts";
import { DataSide, encodeHeader, readStatus } from "../proto/data_header.ts";
import {
  hoopOk,
  signupAdmin,
  spawnHoop,
  startConnect,
  startEchoServer,
  startGateway,
  waitFor,
} from "./_harness.ts";

/** Local ports of established IPv4 sockets connected to `remotePort`. */
async function socketsTo(remotePort: number): Promise<Set<number>> {
  const text = await Deno.readTextFile("/proc/net/tcp");
  const ports = new Set<number>();
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== "01") continue;
    const local = parseInt(f[1].split(":")[1], 16);
    const remote = parseInt(f[2].split(":")[1], 16);
    if (remote === remotePort) ports.add(local);
  }
  return ports;
}

async function echoOnce(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, new TextEncoder().encode(text));
    const buf = new Uint8Array(text.length);
    let got = 0;
    while (got < buf.length) {
      const n = await conn.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    return new TextDecoder().decode(buf.subarray(0, got));
  } finally {
    conn.close();
  }
}

Deno.test("agents park warm data connections after a session and the next session takes one", async (t) => {
  await using gw = await startGateway();
  await using echo = startEchoServer();
  const admin = await signupAdmin(gw);
  const dataPort = Number(gw.dataAddr.split(":").pop());
  const key = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
  await using run = spawnHoop("run echo", [
    "run",
    "--name",
    "echo",
    "--tcp",
    `127.0.0.1:${echo.port}`,
  ], {
    env: { ...gw.env, HOOP_KEY: key },
  });
  await run.log.waitFor(/connected to the gateway/);
  await using connect = await startConnect("echo", { env: admin.env });

  await t.step("an agent that has served nothing parks nothing", async () => {
    assert.equal((await socketsTo(dataPort)).size, 0);
  });

  let parked = new Set<number>();
  await t.step("after the first session a warm connection is parked", async () => {
    assert.equal(await echoOnce(connect.port, "first"), "first");
    const found = await waitFor(async () => {
      // The session's own sockets close once the relay ends; what stays is parked.
      const now = await socketsTo(dataPort);
      return now.size >= 1 && echo.open === 0 ? now : undefined;
    }, { timeoutMs: 15_000, message: "a parked warm data connection" });
    parked = found!;
  });

  await t.step("the next session takes a parked connection and the pool refills", async () => {
    assert.equal(await echoOnce(connect.port, "second"), "second");
    await waitFor(async () => {
      const now = await socketsTo(dataPort);
      const consumed = [...parked].some((p) => !now.has(p));
      return consumed && now.size >= 1 && echo.open === 0;
    }, { timeoutMs: 15_000, message: "a parked connection used and replaced" });
  });

  await t.step("a stranger's warm header is refused with the reason", async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: dataPort });
    try {
      await writeAll(conn, encodeHeader(DataSide.WARM, generateTicket()));
      const status = await readStatus(conn, 10_000);
      assert.ok(!status.ok);
      assert.match(status.message, /unknown or revoked warm key/);
    } finally {
      conn.close();
    }
  });

  await t.step("revoking the agent closes its parked connections", async () => {
    await hoopOk(["admin", "delete", "orgkeys"], { env: admin.env });
    await waitFor(async () => (await socketsTo(dataPort)).size === 0, {
      timeoutMs: 15_000,
      message: "parked connections closed",
    });
  });
});

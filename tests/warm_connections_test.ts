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

async function output(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout);
}

/** Local ports of `pid`'s established IPv4 sockets connected to `remotePort`. */
async function socketsTo(remotePort: number, pid: number): Promise<Set<number>> {
  // Through cat and find: Deno refuses /proc without --allow-all.
  const mine = new Set(
    (await output("find", [`/proc/${pid}/fd`, "-lname", "socket:*", "-printf", "%l\n"]))
      .split("\n").map((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1]).filter(Boolean),
  );
  const ports = new Set<number>();
  for (const line of (await output("cat", ["/proc/net/tcp"])).split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== "01" || !mine.has(f[9])) continue;
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

Deno.test("agents and hoop connect park warm data connections after a session and the next session takes them", async (t) => {
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

  await t.step("an agent and a hoop connect that have served nothing park nothing", async () => {
    assert.equal((await socketsTo(dataPort, run.pid)).size, 0);
    assert.equal((await socketsTo(dataPort, connect.pid)).size, 0);
  });

  let agentParked = new Set<number>();
  let spare = new Set<number>();
  await t.step("after the first session the agent parks some and hoop connect one", async () => {
    assert.equal(await echoOnce(connect.port, "first"), "first");
    await waitFor(async () => {
      // The session's own sockets close once the relay ends; what stays is parked.
      agentParked = await socketsTo(dataPort, run.pid);
      spare = await socketsTo(dataPort, connect.pid);
      return agentParked.size >= 1 && spare.size === 1 && echo.open === 0;
    }, { timeoutMs: 15_000, message: "parked warm data connections" });
  });

  await t.step(
    "the next session takes a parked connection on each side and both refill",
    async () => {
      assert.equal(await echoOnce(connect.port, "second"), "second");
      await waitFor(async () => {
        const agentNow = await socketsTo(dataPort, run.pid);
        const spareNow = await socketsTo(dataPort, connect.pid);
        return [...agentParked].some((p) => !agentNow.has(p)) && agentNow.size >= 1 &&
          [...spare].some((p) => !spareNow.has(p)) && spareNow.size === 1 && echo.open === 0;
      }, { timeoutMs: 15_000, message: "parked connections used and replaced" });
    },
  );

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
    await waitFor(async () => (await socketsTo(dataPort, run.pid)).size === 0, {
      timeoutMs: 15_000,
      message: "parked connections closed",
    });
  });
});

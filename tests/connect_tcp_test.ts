/**
 * `hoop run --tcp` + `hoop connect`: a TCP service inside the "private
 * network" (an echo server in this test) reached through the local port,
 * the gateway and an embedded agent.
 */
import assert from "node:assert/strict";
import {
  freePort,
  hoop,
  hoopOk,
  signupAdmin,
  spawnHoop,
  startConnect,
  startGateway,
  waitFor,
} from "./_harness.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * An echo server that also tells the client, after the client's half-close,
 * how many bytes it got: proof that the EOF crossed the tunnel and that the
 * reverse direction still works after it.
 */
function startEchoServer(): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      void echo(conn).finally(() => conns.delete(conn));
    }
  })().catch(() => {});
  async function echo(conn: Deno.Conn) {
    const buf = new Uint8Array(64 * 1024);
    let total = 0;
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        total += n;
        await writeAll(conn, buf.subarray(0, n));
      }
      await writeAll(conn, encoder.encode(`\nEOF after ${total} bytes\n`));
    } catch {
      // The client went away.
    } finally {
      try {
        conn.close();
      } catch {
        // Closed.
      }
    }
  }
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // Closed.
        }
      }
      await serving;
    },
  };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Send `data`, half-close, and read everything the far end sends until it closes. */
async function exchange(port: number, data: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const [, reply] = await Promise.all([
      (async () => {
        await writeAll(conn, data);
        await conn.closeWrite();
      })(),
      readToEnd(conn),
    ]);
    return reply;
  } finally {
    try {
      conn.close();
    } catch {
      // Closed.
    }
  }
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) crypto.getRandomValues(out.subarray(off, off + 65536));
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

Deno.test("hoop connect relays a TCP service published by hoop run --tcp", async (t) => {
  const gw = await startGateway();
  const echo = startEchoServer();
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const admin = await signupAdmin(gw);
    const key = (await hoopOk(["admin", "create", "orgkeys"], { env: admin.env })).stdout.trim();
    const run = spawnHoop("run echo", [
      "run",
      "--name",
      "echo",
      "--tcp",
      `127.0.0.1:${echo.port}`,
    ], { env: { HOOP_KEY: key } });
    cleanup.push(() => run.stop());
    await run.log.waitFor(/connected to the gateway/);
    const connect = await startConnect("echo", { env: admin.env });
    cleanup.push(() => connect.stop());

    await t.step("bytes cross both ways and the half-close reaches the server", async () => {
      const hello = await exchange(connect.port, encoder.encode("hello"));
      assert.equal(decoder.decode(hello), "hello\nEOF after 5 bytes\n");

      const big = randomBytes(4 * 1024 * 1024);
      const reply = await exchange(connect.port, big);
      assert.equal(reply.length, big.length + `\nEOF after ${big.length} bytes\n`.length);
      assert.deepEqual(reply.subarray(0, big.length), big);
      assert.equal(
        decoder.decode(reply.subarray(big.length)),
        `\nEOF after ${big.length} bytes\n`,
      );
    });

    await t.step("a half-closed client still reads a reply written after its EOF", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: connect.port });
      try {
        await writeAll(conn, encoder.encode("ping"));
        // The echo comes back while our side is still open...
        const buf = new Uint8Array(4);
        let got = 0;
        while (got < 4) {
          const n = await conn.read(buf.subarray(got));
          assert.notEqual(n, null, "the tunnel closed before echoing");
          got += n!;
        }
        assert.equal(decoder.decode(buf), "ping");
        // ...and after our EOF the server answers, then closes.
        await conn.closeWrite();
        assert.equal(decoder.decode(await readToEnd(conn)), "\nEOF after 4 bytes\n");
      } finally {
        conn.close();
      }
    });

    await t.step("many concurrent connections through one hoop connect", async () => {
      const CONNECTIONS = 40;
      const payloads = Array.from({ length: CONNECTIONS }, (_, i) => randomBytes(32 * 1024 + i));
      const replies = await Promise.all(payloads.map((p) => exchange(connect.port, p)));
      replies.forEach((reply, i) => {
        const want = concat(
          payloads[i],
          encoder.encode(`\nEOF after ${payloads[i].length} bytes\n`),
        );
        assert.equal(reply.length, want.length, `connection ${i} length`);
        assert.deepEqual(reply, want, `connection ${i} bytes`);
      });
    });

    await t.step("an unreachable service: the TCP client is closed and hoop says why", async () => {
      const closed = freePort();
      const dead = spawnHoop("run dead", [
        "run",
        "--name",
        "dead",
        "--tcp",
        `127.0.0.1:${closed}`,
      ], { env: { HOOP_KEY: key } });
      cleanup.push(() => dead.stop());
      await dead.log.waitFor(/connected to the gateway/);
      const c = await startConnect("dead", { env: admin.env });
      cleanup.push(() => c.stop());
      const reply = await exchange(c.port, encoder.encode("anyone there?"));
      assert.equal(reply.length, 0, "the local connection is closed without data");
      await c.log.waitFor(
        new RegExp(`agent could not reach 127\\.0\\.0\\.1:${closed}: connection refused`),
      );
      // One line for the failure.
      const lines = c.log.text.split("\n").filter((l) => l.includes("could not reach"));
      assert.equal(lines.length, 1, c.log.text);
      assert.match(lines[0], /^hoop: /);
    });

    await t.step("an unknown connection fails at once with one line", async () => {
      const r = await hoop(["connect", "nope", "-p", "0"], { env: admin.env, timeoutMs: 15_000 });
      assert.notEqual(r.code, 0);
      assert.equal(r.stdout, "");
      const lines = r.stderr.trimEnd().split("\n");
      assert.match(lines[0], /^hoop: Unknown connection "nope"$/);
      assert.ok(lines.slice(1).every((l) => l.startsWith("Hint: ")), r.stderr);
    });

    await t.step(
      "the agent stops: the connection shows OFFLINE and connect refuses it",
      async () => {
        const status = await run.stop();
        assert.equal(status.code, 0, run.log.text);
        await waitFor(async () => {
          const r = await hoopOk(["admin", "get", "connections", "-o", "json"], { env: admin.env });
          const rows = JSON.parse(r.stdout) as { name: string; status: string }[];
          return rows.find((c) => c.name === "echo")?.status === "OFFLINE";
        }, { message: "connection echo never went OFFLINE" });
        const r = await hoop(["connect", "echo", "-p", "0"], { env: admin.env, timeoutMs: 15_000 });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /^hoop: Cannot use connection "echo": agent "echo" is offline\n/);
      },
    );
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    await echo.close();
    await gw.stop();
  }
});

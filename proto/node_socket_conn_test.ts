import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { readFull, writeAll } from "./bytes.ts";
import { connDuplex, NodeSocketConn, NodeSocketListener } from "./node_socket_conn.ts";

Deno.test("connDuplex() replays its first bytes, then carries the conn both ways", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dialed = Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  const client = await dialed;
  const duplex = connDuplex(server, new TextEncoder().encode("early-"));
  const wrapped = new NodeSocketConn(duplex as never, {
    remoteAddr: server.remoteAddr,
    localAddr: server.localAddr,
  });
  assert.equal(wrapped.remoteAddr.port, server.remoteAddr.port);
  await writeAll(client, new TextEncoder().encode("late"));
  assert.equal(new TextDecoder().decode((await readFull(wrapped, 10))!), "early-late");
  await new Promise<void>((resolve, reject) =>
    duplex.write(Buffer.from("back"), (err) => err ? reject(err) : resolve())
  );
  assert.equal(new TextDecoder().decode((await readFull(client, 4))!), "back");
  client.close();
  assert.equal(await wrapped.read(new Uint8Array(1)), null, "the peer's close ends the stream");
  wrapped.close();
});

Deno.test("NodeSocketListener accepts like Deno.listen and maps a busy port to AddrInUse", async () => {
  const listener = await NodeSocketListener.listen({ hostname: "127.0.0.1", port: 0 });
  await assert.rejects(
    NodeSocketListener.listen({ hostname: "127.0.0.1", port: listener.addr.port }),
    Deno.errors.AddrInUse,
  );
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  assert.equal(server.remoteAddr.port, client.localAddr.port);
  await writeAll(client, new TextEncoder().encode("hi"));
  assert.equal(new TextDecoder().decode((await readFull(server, 2))!), "hi");
  await client.closeWrite();
  assert.equal(await server.read(new Uint8Array(1)), null, "half-close reaches the reader");
  await writeAll(server, new TextEncoder().encode("still"));
  assert.equal(new TextDecoder().decode((await readFull(client, 5))!), "still");
  server.close();
  client.close();
  const pending = listener.accept();
  listener.close();
  await assert.rejects(pending, Deno.errors.BadResource);
});

Deno.test("NodeSocketConn: close() right after a write still delivers the queued bytes", async () => {
  const listener = await NodeSocketListener.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  // 8 MiB: far more than the kernel buffers hold while the client is not reading yet,
  // so most of it is still queued in the socket when close() comes.
  const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => i & 0xff);
  const written = server.write(big).catch((e) => e);
  server.close();
  const got = new Uint8Array(big.length);
  let total = 0;
  for (;;) {
    const n = await client.read(got.subarray(total));
    if (n === null || total + n === big.length) {
      total += n ?? 0;
      break;
    }
    total += n;
  }
  assert.equal(total, big.length, "every byte written before close() arrived");
  assert.deepEqual(got, big);
  assert.equal(await written, big.length);
  client.close();
  listener.close();
});

Deno.test("NodeSocketConn: a writer that reuses its buffer as soon as write() resolves sends every chunk intact", async () => {
  const listener = await NodeSocketListener.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  // Chunks above and below the size that is copied, each filled with its own number.
  const sizes = Array.from({ length: 120 }, (_, i) => i % 3 === 0 ? 100 : 64 * 1024 + i);
  const buf = new Uint8Array(128 * 1024);
  const sending = (async () => {
    for (const [i, size] of sizes.entries()) {
      buf.fill(i, 0, size);
      await writeAll(server, buf.subarray(0, size));
    }
    await server.closeWrite();
  })();
  const got = await readFull(client, sizes.reduce((a, b) => a + b, 0));
  await sending;
  assert.ok(got, "every byte arrived");
  let off = 0;
  for (const [i, size] of sizes.entries()) {
    const chunk = got.subarray(off, off + size);
    assert.ok(chunk.every((b) => b === i), `chunk ${i} (${size} bytes) arrived as written`);
    off += size;
  }
  client.close();
  server.close();
  listener.close();
});

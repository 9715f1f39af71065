import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { splice, type SpliceOptions, type SpliceResult } from "./splice.ts";

/** Fail instead of hanging when a step never finishes. */
function deadline<T>(p: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

function tick(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function closeQuietly(c: Deno.Conn): void {
  try {
    c.close();
  } catch {
    // closed by the splice
  }
}

/**
 * client ⇄ a [splice] b ⇄ server, all real loopback TCP. The splice runs in
 * the background; `done` is its result.
 */
async function relay(opts: SpliceOptions = {}) {
  using front = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using back = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, a] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: front.addr.port }),
    front.accept(),
  ]);
  const [b, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: back.addr.port }),
    back.accept(),
  ]);
  const done: Promise<SpliceResult> = splice(a, b, opts);
  return {
    client,
    server,
    done,
    async [Symbol.asyncDispose]() {
      closeQuietly(client);
      closeQuietly(server);
      await deadline(done, "splice end after cleanup");
    },
  };
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function writeAll(c: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await c.write(bytes.subarray(off));
}

/** Read to end of stream; returns byte count and SHA-256. */
async function drain(c: Deno.Conn): Promise<{ bytes: number; sha: string }> {
  const h = createHash("sha256");
  const buf = new Uint8Array(128 * 1024);
  let bytes = 0;
  while (true) {
    const n = await c.read(buf);
    if (n === null) break;
    h.update(buf.subarray(0, n));
    bytes += n;
  }
  return { bytes, sha: h.digest("hex") };
}

async function readText(c: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(1024);
  while (true) {
    const n = await c.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  return new TextDecoder().decode(
    chunks.reduce((acc, c) => {
      const out = new Uint8Array(acc.length + c.length);
      out.set(acc);
      out.set(c, acc.length);
      return out;
    }, new Uint8Array(0)),
  );
}

Deno.test("splice() carries megabytes both ways at once, byte for byte", async () => {
  await using r = await relay();
  const up = randomBytes(8 * 1024 * 1024 + 17);
  const down = randomBytes(6 * 1024 * 1024 + 3);
  const [, , gotUp, gotDown] = await deadline(
    Promise.all([
      writeAll(r.client, up).then(() => r.client.closeWrite()),
      writeAll(r.server, down).then(() => r.server.closeWrite()),
      drain(r.server),
      drain(r.client),
    ]),
    "transfer",
  );
  assert.deepEqual(gotUp, { bytes: up.length, sha: sha256(up) });
  assert.deepEqual(gotDown, { bytes: down.length, sha: sha256(down) });
  assert.deepEqual(await deadline(r.done, "splice end"), { a2b: up.length, b2a: down.length });
});

Deno.test("splice() carries a half-close: the far side still answers", async () => {
  await using r = await relay();
  const enc = new TextEncoder();
  await writeAll(r.client, enc.encode("question"));
  await r.client.closeWrite();
  // The server sees end of stream, yet its write side is still open.
  assert.equal(await deadline(readText(r.server), "server read"), "question");
  await writeAll(r.server, enc.encode("answer"));
  await r.server.closeWrite();
  assert.equal(await deadline(readText(r.client), "client read"), "answer");
  assert.deepEqual(await deadline(r.done, "splice end"), { a2b: 8, b2a: 6 });
});

Deno.test("splice() applies back-pressure: a paused reader stalls the writer", async () => {
  let relayed = 0;
  await using r = await relay({ observer: { onData: (_dir, chunk) => relayed += chunk.length } });
  const total = 64 * 1024 * 1024;
  const data = randomBytes(total);
  let writeDone = false;
  const writing = writeAll(r.client, data).then(() => writeDone = true);

  // The server reads nothing. Wait until the relay stops making progress (or,
  // if back-pressure were broken, the whole write completes).
  let last = -1;
  let stablePolls = 0;
  await deadline(
    (async () => {
      while (!writeDone && !(relayed > 0 && stablePolls >= 10)) {
        await tick(25);
        stablePolls = relayed === last ? stablePolls + 1 : 0;
        last = relayed;
      }
    })(),
    "relay to stall",
  );
  assert.equal(writeDone, false, "a 64 MiB write completed although nobody read it");
  // Only kernel socket buffers and the one splice buffer hold the bytes in flight.
  assert.ok(relayed < total / 2, `relay accepted ${relayed} bytes with the reader paused`);

  // Resuming the reader lets everything through, intact.
  const [got] = await deadline(
    Promise.all([drain(r.server), writing.then(() => r.client.closeWrite())]),
    "resume",
  );
  assert.deepEqual(got, { bytes: total, sha: sha256(data) });
  await r.server.closeWrite();
  assert.deepEqual(await deadline(r.done, "splice end"), { a2b: total, b2a: 0 });
});

Deno.test("splice() shows the observer every byte, in order and per direction", async () => {
  const seen = { a2b: [] as Uint8Array[], b2a: [] as Uint8Array[] };
  await using r = await relay({
    bufferBytes: 4096,
    observer: { onData: (dir, chunk) => seen[dir].push(chunk.slice()) },
  });
  const up = randomBytes(300_001);
  const down = randomBytes(77_777);
  await deadline(
    Promise.all([
      writeAll(r.client, up).then(() => r.client.closeWrite()),
      writeAll(r.server, down).then(() => r.server.closeWrite()),
      drain(r.server),
      drain(r.client),
    ]),
    "transfer",
  );
  const result = await deadline(r.done, "splice end");
  assert.deepEqual(result, { a2b: up.length, b2a: down.length });
  const joined = (parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  };
  assert.equal(sha256(joined(seen.a2b)), sha256(up));
  assert.equal(sha256(joined(seen.b2a)), sha256(down));
  assert.ok(seen.a2b.every((c) => c.length <= 4096), "chunks are bounded by the buffer");
});

Deno.test("splice() closes both connections when the signal aborts", async () => {
  const ac = new AbortController();
  await using r = await relay({ signal: ac.signal });
  await writeAll(r.client, new TextEncoder().encode("ping"));
  assert.equal(await deadline(readExactly(r.server, 4), "first bytes"), "ping");
  ac.abort();
  assert.deepEqual(await deadline(r.done, "splice end"), { a2b: 4, b2a: 0 });
  assert.equal(await deadline(readText(r.client), "client end"), "");
  assert.equal(await deadline(readText(r.server), "server end"), "");
});

Deno.test("splice() with an already aborted signal closes both at once", async () => {
  const ac = new AbortController();
  ac.abort();
  await using r = await relay({ signal: ac.signal });
  assert.deepEqual(await deadline(r.done, "splice end"), { a2b: 0, b2a: 0 });
  assert.equal(await deadline(readText(r.client), "client end"), "");
});

Deno.test("splice() ends both directions when a write fails after a reset", async () => {
  await using r = await relay();
  await writeAll(r.client, new Uint8Array(1000).fill(1));
  // Closing with unread bytes in the receive queue makes Linux send a reset.
  const one = new Uint8Array(1);
  assert.equal(await deadline(r.server.read(one), "server read"), 1);
  r.server.close();
  // Deno reads a reset as end of stream, so the splice passes it on as one.
  assert.equal(await deadline(readText(r.client), "client sees the end"), "");
  // The client's next bytes cannot be delivered: the failed write ends the
  // splice and closes the client's connection.
  await writeAll(r.client, new TextEncoder().encode("more"));
  const result = await deadline(r.done, "splice end");
  assert.ok(result.error instanceof Error, "the failed write is reported");
  assert.equal(result.a2b, 1000);
  const ended = await deadline(
    r.client.write(new Uint8Array(1)).then(() => r.client.write(new Uint8Array(1))).catch((err) =>
      err
    ),
    "client write fails",
  );
  assert.ok(
    ended instanceof Deno.errors.BrokenPipe || ended instanceof Deno.errors.ConnectionReset,
    String(ended),
  );
});

async function readExactly(c: Deno.Conn, n: number): Promise<string> {
  const buf = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await c.read(buf.subarray(off));
    if (got === null) throw new Error(`end of stream after ${off} bytes`);
    off += got;
  }
  return new TextDecoder().decode(buf);
}

import assert from "node:assert/strict";
import { Logger } from "../proto/log.ts";
import { startHttpFront } from "./http_front.ts";

const quiet = new Logger({}, { sink: { write: () => {} }, level: "error" });
const enc = new TextEncoder();
const dec = new TextDecoder();

async function readAll(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(64 * 1024);
  let out = "";
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return out;
    out += dec.decode(buf.subarray(0, n));
  }
}

Deno.test("the HTTP front serves requests and tells the handler the real peer", async () => {
  const front = startHttpFront({ hostname: "127.0.0.1", port: 0 }, {
    log: quiet,
    handler: (_req, peer) => new Response(`${peer.hostname}:${peer.port}`),
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
    await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const text = await readAll(conn);
    conn.close();
    const local = conn.localAddr as Deno.NetAddr;
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.ok(text.endsWith(`127.0.0.1:${local.port}`), text);
    const res = await fetch(`http://127.0.0.1:${front.addr.port}/x`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await front.close();
  }
});

Deno.test("the HTTP front answers 408 to headers that never finish (issue #10)", async () => {
  const front = startHttpFront({ hostname: "127.0.0.1", port: 0 }, {
    log: quiet,
    headerTimeoutMs: 300,
    handler: () => new Response("never"),
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
    await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n"));
    const text = await readAll(conn);
    conn.close();
    assert.match(text, /^HTTP\/1\.1 408 Request Timeout/);
  } finally {
    await front.close();
  }
});

Deno.test("the HTTP front refuses a header block over its limit with 431", async () => {
  const front = startHttpFront({ hostname: "127.0.0.1", port: 0 }, {
    log: quiet,
    handler: () => new Response("never"),
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
    const huge = "GET / HTTP/1.1\r\nX-Big: " + "a".repeat(70 * 1024) + "\r\n\r\n";
    const writing = conn.write(enc.encode(huge)).catch(() => 0);
    const text = await readAll(conn);
    await writing;
    conn.close();
    assert.match(text, /^HTTP\/1\.1 431/);
  } finally {
    await front.close();
  }
});

Deno.test("the HTTP front caps connections per source address", async () => {
  const front = startHttpFront({ hostname: "127.0.0.1", port: 0 }, {
    log: quiet,
    maxConnectionsPerAddress: 2,
    headerTimeoutMs: 5_000,
    handler: () => new Response("ok"),
  });
  const held: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
      await c.write(enc.encode("GET / HTTP/1.1\r\n")); // half a request: held open
      held.push(c);
    }
    const deadline = Date.now() + 5_000;
    while (front.connectionsFrom("127.0.0.1") < 2) {
      if (Date.now() > deadline) throw new Error("the front never counted both connections");
      await new Promise((r) => setTimeout(r, 10));
    }
    const third = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
    assert.equal(await readAll(third), "", "the third connection is closed at once");
    third.close();
  } finally {
    for (const c of held) c.close();
    await front.close();
  }
});

Deno.test("the HTTP front answers a TLS hello on a plain port at once", async () => {
  const front = startHttpFront({ hostname: "127.0.0.1", port: 0 }, {
    log: quiet,
    headerTimeoutMs: 60_000,
    handler: () => new Response("never"),
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
    await conn.write(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]));
    // Well before the 60 s header deadline.
    assert.match(await readAll(conn), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*not TLS/);
    conn.close();
  } finally {
    await front.close();
  }
});

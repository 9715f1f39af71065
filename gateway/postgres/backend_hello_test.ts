import assert from "node:assert/strict";
import { concatBytes } from "../../proto/bytes.ts";
import {
  encodeAuthenticationOk,
  encodeBackendKeyData,
  encodeErrorResponse,
  encodeMessage,
} from "../../proto/pgwire/mod.ts";
import { MAX_HELLO_MESSAGE_BYTES, relayBackendHello } from "./backend_hello.ts";
import type { BackendKey } from "./cancel_keys.ts";

/** An agent side that hands out `step` bytes per read, and how far it was read. */
function agentOf(data: Uint8Array, step: number) {
  let off = 0;
  const conn = {
    read(p: Uint8Array): Promise<number | null> {
      if (off >= data.length) return Promise.resolve(null);
      const n = Math.min(step, p.length, data.length - off);
      p.set(data.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
  };
  return { conn: conn as unknown as Deno.Conn, consumed: () => off };
}

/** A client side that keeps what is written to it. */
function clientOf() {
  const chunks: Uint8Array[] = [];
  const conn = {
    write(p: Uint8Array): Promise<number> {
      chunks.push(p.slice());
      return Promise.resolve(p.length);
    },
  };
  return { conn: conn as unknown as Deno.Conn, bytes: () => concatBytes(chunks), chunks };
}

const param = encodeMessage("S", new TextEncoder().encode("server_version\x0017.2\x00"));
const ready = encodeMessage("Z", new TextEncoder().encode("I"));
const real: BackendKey = { pid: 777, secret: new Uint8Array([1, 2, 3, 4]) };
const mine: BackendKey = { pid: 99999, secret: new Uint8Array([5, 6, 7, 8]) };

Deno.test("relayBackendHello() swaps the BackendKeyData and stops at ReadyForQuery", async () => {
  const later = encodeMessage("T", new Uint8Array(2));
  const hello = concatBytes([
    encodeAuthenticationOk(),
    param,
    encodeBackendKeyData(real.pid, real.secret),
    ready,
  ]);
  for (const step of [1, 3, 1024]) {
    const agent = agentOf(concatBytes([hello, later]), step);
    const client = clientOf();
    let seen: BackendKey | undefined;
    const n = await relayBackendHello(agent.conn, client.conn, (k) => {
      seen = k;
      return mine;
    });
    assert.deepEqual(seen, real);
    const want = concatBytes([
      encodeAuthenticationOk(),
      param,
      encodeBackendKeyData(mine.pid, mine.secret),
      ready,
    ]);
    assert.deepEqual(client.bytes(), want);
    assert.equal(n, want.length);
    assert.equal(client.chunks.length, 1, "the hello leaves in one write");
    assert.equal(agent.consumed(), hello.length, "nothing after ReadyForQuery is read");
  }
});

Deno.test("relayBackendHello() passes a failed login's ErrorResponse and stops", async () => {
  const error = encodeErrorResponse("FATAL", "28P01", "password authentication failed");
  const agent = agentOf(concatBytes([error, ready]), 7);
  const client = clientOf();
  const n = await relayBackendHello(agent.conn, client.conn, () => assert.fail("no key"));
  assert.deepEqual(client.bytes(), error);
  assert.equal(n, error.length);
  assert.equal(agent.consumed(), error.length);
});

Deno.test("relayBackendHello() ends quietly at end of stream and refuses a huge message", async () => {
  const client = clientOf();
  assert.equal(
    await relayBackendHello(agentOf(param, 4).conn, client.conn, () => mine),
    param.length,
  );
  const huge = new Uint8Array(5);
  huge[0] = "S".charCodeAt(0);
  new DataView(huge.buffer).setInt32(1, MAX_HELLO_MESSAGE_BYTES + 5);
  await assert.rejects(
    relayBackendHello(agentOf(huge, 5).conn, clientOf().conn, () => mine),
    /a "S" message of \d+ bytes is outside/,
  );
  await assert.rejects(
    relayBackendHello(agentOf(param.subarray(0, 9), 4).conn, clientOf().conn, () => mine),
    /stream ended/,
  );
});

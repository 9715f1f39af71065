import assert from "node:assert/strict";
import { concatBytes } from "../bytes.ts";
import { chunkReader } from "./_chunk_reader.ts";
import { encodeQuery, encodeTerminate } from "./codec.ts";
import { MessageReader } from "./message_reader.ts";

Deno.test("MessageReader returns messages split across reads and hands back the rest", async () => {
  const big = "x".repeat(40_000); // larger than the reader's buffer
  const data = concatBytes([
    encodeQuery("select 1"),
    encodeQuery(big),
    encodeTerminate(),
    new TextEncoder().encode("tail"),
  ]);
  const reader = new MessageReader(chunkReader(data, 7), { bufferBytes: 1024 });
  const a = await reader.next();
  assert.equal(a?.type, "Q");
  assert.equal(new TextDecoder().decode(a!.body), "select 1\0");
  const b = await reader.next();
  assert.equal(b?.body.length, big.length + 1);
  const c = await reader.next();
  assert.equal(c?.type, "X");
  // "tail" is not a full header: it stays buffered (or unread) and is not lost.
  const rest = reader.takeBuffered();
  assert.ok(new TextDecoder().decode(rest).length <= 4);
});

Deno.test("MessageReader refuses a body over its limit", async () => {
  const reader = new MessageReader(chunkReader(encodeQuery("x".repeat(100)), 1000), {
    maxBodyBytes: 50,
  });
  await assert.rejects(reader.next(), /body of 101 bytes is over the 50 byte limit/);
});

Deno.test("MessageReader throws on end of stream inside a message", async () => {
  const reader = new MessageReader(chunkReader(encodeQuery("select 1").subarray(0, 7), 3));
  await assert.rejects(reader.next(), Deno.errors.UnexpectedEof);
});

import assert from "node:assert/strict";
import { int32Bytes as i32 } from "./codec.ts";
import { concatBytes } from "../bytes.ts";
import { chunkReader } from "./_chunk_reader.ts";
import { encodeCancel, encodeQuery, encodeSslRequest, encodeStartup } from "./codec.ts";
import { MessageReader } from "./message_reader.ts";
import { negotiateStartup, readStartup } from "./startup.ts";

Deno.test("readStartup() reads SSLRequest, startup parameters and cancel requests", async () => {
  assert.deepEqual(await readStartup(chunkReader(encodeSslRequest(), 3)), { kind: "ssl" });
  assert.deepEqual(
    await readStartup(chunkReader(encodeStartup({ user: "nobody", database: "x" }), 1)),
    { kind: "startup", protocol: 196608, params: { user: "nobody", database: "x" } },
  );
  const secret = new Uint8Array([1, 2, 3, 4]);
  assert.deepEqual(await readStartup(chunkReader(encodeCancel(4242, secret), 5)), {
    kind: "cancel",
    pid: 4242,
    secret,
  });
  assert.equal(await readStartup(chunkReader(new Uint8Array(0), 1)), null);
});

Deno.test("readStartup() refuses a packet over the 10 KiB cap and other protocols", async () => {
  await assert.rejects(
    readStartup(chunkReader(concatBytes([i32(1_000_000), i32(196608)]), 8)),
    /length 1000000 is outside 8\.\.10240 bytes/,
  );
  await assert.rejects(
    readStartup(chunkReader(concatBytes([i32(8), i32(2 << 16)]), 8)),
    /only 3\.x is supported/,
  );
});

Deno.test("readStartup() does not read past the packet", async () => {
  const r = chunkReader(concatBytes([encodeSslRequest(), encodeQuery("select 1")]), 1000);
  // The reader hands out everything in one read if allowed; readStartup must ask for 4 then 4.
  assert.deepEqual(await readStartup(r), { kind: "ssl" });
  const m = await new MessageReader(r).next();
  assert.equal(m?.type, "Q");
});

/** A client conn over `input` that records what it is sent. */
function fakeClient(input: Uint8Array) {
  const sent: number[] = [];
  const r = chunkReader(input, 3);
  return {
    sent,
    read: (p: Uint8Array) => r.read(p),
    write(p: Uint8Array): Promise<number> {
      sent.push(...p);
      return Promise.resolve(p.length);
    },
  };
}

Deno.test("negotiateStartup() refuses encryption and returns the startup as sent", async () => {
  // Parameters in an order encodeStartup would keep too, but with an unusual protocol minor:
  // the raw bytes must be the client's own.
  const startup = encodeStartup({ user: "u", database: "d", application_name: "a" }, 196610);
  const client = fakeClient(concatBytes([encodeSslRequest(), startup]));
  const got = await negotiateStartup(client);
  assert.deepEqual(client.sent, [0x4e]);
  assert.deepEqual(got?.packet, {
    kind: "startup",
    protocol: 196610,
    params: { user: "u", database: "d", application_name: "a" },
  });
  assert.deepEqual(got?.raw, startup);
});

Deno.test("negotiateStartup() returns a cancel request raw and null for a silent client", async () => {
  const cancel = encodeCancel(7, new Uint8Array([9, 9, 9, 9]));
  const got = await negotiateStartup(fakeClient(cancel));
  assert.equal(got?.packet.kind, "cancel");
  assert.deepEqual(got?.raw, cancel);
  assert.equal(await negotiateStartup(fakeClient(new Uint8Array(0))), null);
});

Deno.test("negotiateStartup() refuses a third encryption request", async () => {
  const ssl = encodeSslRequest();
  const client = fakeClient(concatBytes([ssl, ssl, ssl, encodeStartup({ user: "u" })]));
  await assert.rejects(negotiateStartup(client), /too many encryption requests/);
  assert.deepEqual(client.sent, [0x4e, 0x4e]);
});

import assert from "node:assert/strict";
import { acceptLoop } from "./accept_loop.ts";

Deno.test("acceptLoop() survives a handler that throws and keeps serving", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const errors: unknown[] = [];
  let served = 0;
  const loop = acceptLoop(listener, async (conn) => {
    served++;
    if (served === 1) throw new Error("crafted failure");
    await conn.write(new TextEncoder().encode("ok"));
    conn.close();
  }, { onError: (err) => errors.push(err) });
  const first = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  // The failing handler's connection is closed by the loop: the client sees end of stream.
  assert.equal(await first.read(new Uint8Array(8)), null);
  first.close();
  const second = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const buf = new Uint8Array(8);
  const n = await second.read(buf);
  assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "ok");
  second.close();
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /crafted failure/);
  loop.close();
  await loop.done;
});

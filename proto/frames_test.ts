import assert from "node:assert/strict";
import {
  encodeFrame,
  exitPayload,
  type Frame,
  FrameError,
  FrameReader,
  FrameType,
  MAX_FRAME_PAYLOAD_BYTES,
  parseExit,
  parseResize,
  resizePayload,
  writeFrame,
} from "./frames.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A reader over fixed bytes that hands out at most `chunk` bytes per read and counts reads. */
function chunkedReader(bytes: Uint8Array, chunk: number) {
  let pos = 0;
  return {
    reads: 0,
    read(p: Uint8Array): Promise<number | null> {
      this.reads++;
      if (pos >= bytes.length) return Promise.resolve(null);
      const n = Math.min(chunk, p.length, bytes.length - pos);
      p.set(bytes.subarray(pos, pos + n));
      pos += n;
      return Promise.resolve(n);
    },
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function readAll(r: FrameReader): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let f = await r.next(); f !== null; f = await r.next()) frames.push(f);
  return frames;
}

Deno.test("encodeFrame() writes type, u32 BE length and payload", () => {
  assert.deepEqual([...encodeFrame(FrameType.STDOUT, enc.encode("hi"))], [
    2,
    0,
    0,
    0,
    2,
    0x68,
    0x69,
  ]);
  assert.deepEqual([...encodeFrame(FrameType.STDIN_EOF)], [7, 0, 0, 0, 0]);
  assert.throws(() => encodeFrame(256), RangeError);
  assert.throws(
    () => encodeFrame(FrameType.STDIN, new Uint8Array(MAX_FRAME_PAYLOAD_BYTES + 1)),
    /payload of 1048577 bytes exceeds the limit of 1048576 bytes/,
  );
});

Deno.test("FrameReader reads every frame type back, whatever the read sizes", async () => {
  const frames: Frame[] = [
    { type: 9, payload: enc.encode('{"cols":80,"rows":24}') }, // reserved: readers pass it on
    { type: FrameType.STDIN, payload: enc.encode("select 1;\n") },
    { type: FrameType.RESIZE, payload: resizePayload(120, 40) },
    { type: 5, payload: enc.encode("SIGINT") }, // reserved
    { type: FrameType.STDIN_EOF, payload: new Uint8Array(0) },
    { type: FrameType.STDOUT, payload: Uint8Array.from({ length: 200_000 }, (_, i) => i & 0xff) },
    { type: FrameType.STDERR, payload: enc.encode("oops") },
    { type: FrameType.ERROR, payload: enc.encode('Cannot run "x": not found') },
    { type: FrameType.EXIT, payload: exitPayload(-2) },
  ];
  const wire = concat(frames.map((f) => encodeFrame(f.type, f.payload)));
  for (const chunk of [1, 3, 5, 4096, 1 << 20]) {
    const got = await readAll(new FrameReader(chunkedReader(wire, chunk)));
    assert.deepEqual(got, frames, `read size ${chunk}`);
  }
});

Deno.test("FrameReader serves many small frames from one read", async () => {
  const frames = Array.from(
    { length: 1000 },
    (_, i) => encodeFrame(FrameType.STDOUT, enc.encode(`${i}`)),
  );
  const src = chunkedReader(concat(frames), 1 << 20);
  const got = await readAll(new FrameReader(src));
  assert.equal(got.length, 1000);
  assert.equal(dec.decode(got[999].payload), "999");
  // One read fills the buffer with every frame (under 64 KiB), one more sees the end.
  assert.equal(src.reads, 2);
});

Deno.test("FrameReader gives each frame its own payload copy", async () => {
  const wire = concat([
    encodeFrame(FrameType.STDOUT, enc.encode("one")),
    encodeFrame(FrameType.STDOUT, enc.encode("two")),
  ]);
  const r = new FrameReader(chunkedReader(wire, 1 << 20));
  const first = (await r.next())!;
  await r.next();
  assert.equal(dec.decode(first.payload), "one");
});

Deno.test("FrameReader rejects a length over 1 MiB, naming it", async () => {
  const wire = new Uint8Array([FrameType.STDIN, 0x00, 0x10, 0x00, 0x01]);
  await assert.rejects(
    new FrameReader(chunkedReader(wire, 64)).next(),
    (err: unknown) =>
      err instanceof FrameError &&
      err.message ===
        "Cannot read frame: payload of 1048577 bytes exceeds the limit of 1048576 bytes",
  );
  const huge = new Uint8Array([FrameType.STDIN, 0xff, 0xff, 0xff, 0xff]);
  await assert.rejects(
    new FrameReader(chunkedReader(huge, 64)).next(),
    /payload of 4294967295 bytes/,
  );
});

Deno.test("FrameReader accepts a payload of exactly 1 MiB", async () => {
  const payload = new Uint8Array(MAX_FRAME_PAYLOAD_BYTES).fill(7);
  const r = new FrameReader(chunkedReader(encodeFrame(FrameType.STDOUT, payload), 100_000));
  const f = (await r.next())!;
  assert.equal(f.payload.length, MAX_FRAME_PAYLOAD_BYTES);
  assert.deepEqual(f.payload, payload);
  assert.equal(await r.next(), null);
});

Deno.test("FrameReader reports a stream that ends inside a frame", async (t) => {
  const wire = encodeFrame(FrameType.STDOUT, enc.encode("hello"));
  await t.step("inside the header", async () => {
    await assert.rejects(new FrameReader(chunkedReader(wire.subarray(0, 3), 64)).next(), {
      message: "Cannot read frame: the stream ended after 3 of 5 header bytes",
    });
  });
  await t.step("inside the payload", async () => {
    await assert.rejects(new FrameReader(chunkedReader(wire.subarray(0, 7), 64)).next(), {
      message: "Cannot read frame: the stream ended after 2 of 5 payload bytes",
    });
  });
  await t.step("clean end between frames", async () => {
    assert.equal(await new FrameReader(chunkedReader(new Uint8Array(0), 64)).next(), null);
  });
});

Deno.test("writeFrame() and FrameReader carry frames over real TCP", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  try {
    const big = crypto.getRandomValues(new Uint8Array(65536));
    const sending = (async () => {
      for (let i = 0; i < 64; i++) await writeFrame(client, FrameType.STDIN, big);
      await writeFrame(client, FrameType.STDIN_EOF);
      await writeFrame(client, FrameType.EXIT, exitPayload(3));
      await client.closeWrite();
    })();
    const got = await readAll(new FrameReader(server));
    await sending;
    assert.equal(got.length, 66);
    assert.ok(
      got.slice(0, 64).every((f) => f.type === FrameType.STDIN && f.payload.length === 65536),
    );
    assert.deepEqual(got[63].payload, big);
    assert.equal(got[64].type, FrameType.STDIN_EOF);
    assert.equal(parseExit(got[65].payload), 3);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("resizePayload() and parseResize() round-trip u16 columns and rows", () => {
  assert.deepEqual([...resizePayload(0x0102, 0x0304)], [1, 2, 3, 4]);
  assert.deepEqual(parseResize(resizePayload(65535, 0)), { cols: 65535, rows: 0 });
  assert.throws(() => resizePayload(65536, 1), /columns 65536/);
  assert.throws(() => parseResize(new Uint8Array(3)), {
    message: "Cannot parse resize frame: payload has 3 bytes, expected 4",
  });
});

Deno.test("exitPayload() and parseExit() round-trip signed 32-bit codes", () => {
  for (const code of [0, 1, 255, 130, -1, 2 ** 31 - 1, -(2 ** 31)]) {
    assert.equal(parseExit(exitPayload(code)), code);
  }
  assert.deepEqual([...exitPayload(-1)], [255, 255, 255, 255]);
  assert.throws(() => exitPayload(2 ** 31), RangeError);
  assert.throws(() => parseExit(new Uint8Array(0)), FrameError);
});

/**
 * Fuzz tests of the exec/console frame decoders: {@linkcode FrameReader} over
 * randomly split streams, {@linkcode parseResize} and {@linkcode parseExit}.
 *
 * @module
 */
import assert from "node:assert/strict";
import { concatBytes } from "./bytes.ts";
import { fuzzBytes, fuzzConn } from "./_fuzz.ts";
import {
  encodeFrame,
  exitPayload,
  FrameError,
  FrameReader,
  FrameType,
  MAX_FRAME_PAYLOAD_BYTES,
  parseExit,
  parseResize,
  resizePayload,
} from "./frames.ts";

const enc = new TextEncoder();

/** More frames than this from one short input would mean the reader invents them. */
const MAX_FRAMES_PER_INPUT = 100_000;

const STREAMS = [
  concatBytes([
    encodeFrame(FrameType.STDIN, enc.encode("ls -l\n")),
    encodeFrame(FrameType.RESIZE, resizePayload(120, 40)),
    encodeFrame(FrameType.STDIN_EOF),
  ]),
  concatBytes([
    encodeFrame(FrameType.STDOUT, enc.encode("total 0\n")),
    encodeFrame(FrameType.STDERR, enc.encode("warning\n")),
    encodeFrame(FrameType.EXIT, exitPayload(-1)),
  ]),
  encodeFrame(FrameType.ERROR, enc.encode("Cannot run command: not found")),
  encodeFrame(9),
  new Uint8Array(0),
];

Deno.test("FrameReader.next() fuzzed: frames within the limit or a FrameError", async () => {
  await fuzzBytes({
    name: "FrameReader",
    seeds: STREAMS,
    expected: (err) => err instanceof FrameError,
    async run(input, rng) {
      const conn = fuzzConn(input, rng);
      const reader = new FrameReader(conn);
      let total = 0;
      for (let n = 0;; n++) {
        assert.ok(n < MAX_FRAMES_PER_INPUT, "the reader returned more frames than the input holds");
        const f = await reader.next();
        if (f === null) break;
        assert.ok(Number.isInteger(f.type) && f.type >= 0 && f.type <= 255);
        assert.ok(f.payload.length <= MAX_FRAME_PAYLOAD_BYTES);
        total += 5 + f.payload.length;
      }
      assert.equal(total, input.length, "a clean end must come after whole frames only");
    },
  });
});

Deno.test("parseResize() and parseExit() fuzzed: numbers in range or a FrameError", async () => {
  await fuzzBytes({
    name: "parseResize+parseExit",
    seeds: [resizePayload(80, 24), resizePayload(0xffff, 0), exitPayload(0), exitPayload(255)],
    expected: (err) => err instanceof FrameError,
    run(input) {
      let resized: { cols: number; rows: number } | undefined;
      try {
        resized = parseResize(input);
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
      }
      if (resized) {
        assert.equal(input.length, 4);
        assert.ok(resized.cols >= 0 && resized.cols <= 0xffff);
        assert.ok(resized.rows >= 0 && resized.rows <= 0xffff);
        assert.deepEqual(resizePayload(resized.cols, resized.rows), input);
      }
      const code = parseExit(input);
      assert.equal(input.length, 4);
      assert.deepEqual(exitPayload(code), input);
    },
  });
});

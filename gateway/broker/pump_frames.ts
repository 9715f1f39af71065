/**
 * One frame pump for both directions of an exec or console relay. It owns
 * every error of the streams it reads and writes: a malformed frame, an
 * absurd length or a peer that vanishes mid-write resolves the pump with the
 * error and where it happened, it never rejects, so no relay can leave a
 * rejection nobody awaits.
 *
 * @module
 */
import type { ByteReader, ByteWriter } from "../../proto/bytes.ts";
import { type Frame, FrameReader, writeFrame } from "../../proto/frames.ts";

/** What {@linkcode pumpFrames} does with a frame after `onFrame` saw it. */
export type FrameVerdict = "forward" | "forward_last" | "drop";

/**
 * How a pump ended: `eof`, the source ended cleanly between frames; `last`,
 * a `forward_last` frame went through; `read_error`, the source sent a
 * malformed frame or failed (the source's fault, as is an `onFrame` throw on
 * its frame); `write_error`, the destination would not take a frame.
 */
export interface PumpResult {
  end: "eof" | "last" | "read_error" | "write_error";
  /** Set for the two error ends. */
  error?: unknown;
}

/**
 * Read frames from `from` and write them to `to` one by one (TCP
 * back-pressure reaches the sender), letting `onFrame` record, inspect or
 * stop each. Resolves when the source ends, a frame is the last, or anything
 * fails; never rejects.
 */
export async function pumpFrames(
  from: ByteReader,
  to: ByteWriter,
  onFrame: (f: Frame) => FrameVerdict | Promise<FrameVerdict>,
): Promise<PumpResult> {
  const reader = new FrameReader(from);
  for (;;) {
    let f: Frame | null;
    let verdict: FrameVerdict;
    try {
      f = await reader.next();
      if (!f) return { end: "eof" };
      verdict = await onFrame(f);
    } catch (error) {
      return { end: "read_error", error };
    }
    if (verdict === "drop") continue;
    try {
      await writeFrame(to, f.type, f.payload);
    } catch (error) {
      return { end: "write_error", error };
    }
    if (verdict === "forward_last") return { end: "last" };
  }
}

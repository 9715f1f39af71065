/**
 * One frame pump for both directions of an exec or console relay. It owns
 * every error of the streams it reads and writes: a malformed frame, an
 * absurd length or a peer that vanishes mid-write resolves the pump with the
 * error, it never rejects, so no relay can leave a rejection nobody awaits.
 *
 * @module
 */
import type { ByteReader, ByteWriter } from "../../proto/bytes.ts";
import { type Frame, FrameReader, writeFrame } from "../../proto/frames.ts";

/** What {@linkcode pumpFrames} does with a frame after `onFrame` saw it. */
export type FrameVerdict = "forward" | "forward_last" | "drop";

/** How a pump ended. */
export interface PumpResult {
  /** `eof`: the source ended cleanly between frames; `last`: a `forward_last` frame. */
  end: "eof" | "last" | "error";
  /** Set when `end` is `error`: why reading, handling or writing failed. */
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
  try {
    for (;;) {
      const f = await reader.next();
      if (!f) return { end: "eof" };
      const verdict = await onFrame(f);
      if (verdict === "drop") continue;
      await writeFrame(to, f.type, f.payload);
      if (verdict === "forward_last") return { end: "last" };
    }
  } catch (error) {
    return { end: "error", error };
  }
}

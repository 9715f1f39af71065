/**
 * The relay of exec and console sessions: frames pass one by one, each
 * direction through {@linkcode pumpFrames}, so input and output are recorded
 * as they pass and the EXIT frame is held until the record is durable
 * ("durable before reported closed").
 *
 * A malformed frame from either side, or a side that vanishes, ends this
 * session with the reason recorded; it never escapes as a rejection.
 *
 * @module
 */
import { closeQuietly } from "../../proto/bytes.ts";
import { FrameType, parseExit, parseResize } from "../../proto/frames.ts";
import { type LiveSession, reasonOf } from "./live_session.ts";
import { pumpFrames } from "./pump_frames.ts";

const decoder = new TextDecoder();

/** Relay frames between `client` and `agent`; resolves with the remote exit code, if one came. */
export async function relayFrames(
  session: LiveSession,
  client: Deno.Conn,
  agent: Deno.Conn,
): Promise<number | null> {
  const rec = session.recorder;
  let exitCode: number | null = null;
  /** Set once the agent's side is over: client errors after our own close are its echo. */
  let over = false;
  const upstream = pumpFrames(client, agent, (f) => {
    if (f.type === FrameType.STDIN) {
      rec.bytesIn += f.payload.length;
      rec.record("i", f.payload);
    } else if (f.type === FrameType.RESIZE) {
      const { cols, rows } = parseResize(f.payload);
      rec.record("r", `${cols}x${rows}`);
    }
    return "forward";
  }).then(async (r) => {
    if (r.end === "read_error" && !over) {
      // The client broke its own stream (a malformed frame, a reset): that ends
      // the session; closing both ends the other pump.
      session.endReason ??= `the client's data connection failed: ${reasonOf(r.error)}`;
      closeQuietly(client);
      closeQuietly(agent);
    } else if (r.end === "eof") {
      await agent.closeWrite().catch(() => {});
    }
    // A write_error means the agent stopped taking input (its command exited, or
    // it died): what the agent says next, or its silence, decides the outcome.
  });
  const downstream = await pumpFrames(agent, client, async (f) => {
    if (f.type === FrameType.STDOUT) {
      rec.bytesOut += f.payload.length;
      rec.record("o", f.payload);
    } else if (f.type === FrameType.STDERR) {
      rec.bytesOut += f.payload.length;
      rec.record("e", f.payload);
    } else if (f.type === FrameType.ERROR) {
      session.endReason ??= decoder.decode(f.payload);
    } else if (f.type === FrameType.EXIT) {
      exitCode = parseExit(f.payload);
      await rec.finish({
        status: session.endReason ? "error" : "done",
        exitCode,
        error: session.endReason ?? null,
      });
      return "forward_last";
    }
    return "forward";
  });
  over = true;
  if (downstream.end === "read_error") {
    session.endReason ??= `the agent's data connection failed: ${reasonOf(downstream.error)}`;
  } else if (downstream.end === "write_error") {
    session.endReason ??= `the client went away: ${reasonOf(downstream.error)}`;
  } else if (exitCode === null) {
    session.endReason ??= "the agent closed the session without an exit code";
  }
  closeQuietly(client);
  closeQuietly(agent);
  await upstream;
  return exitCode;
}

/**
 * One command run for the web console over an own session's console frames:
 * the input on stdin then STDIN_EOF, as `hoop exec -i` sends it; stdout and
 * stderr collected apart up to a byte budget, and the exit code.
 *
 * @module
 */
import type * as wire from "../../proto/api_types.ts";
import { endOnAbort, type OwnSession } from "./own_session.ts";
import { concatBytes } from "../../proto/bytes.ts";
import { FrameReader, FrameType, parseExit, writeFrame } from "../../proto/frames.ts";

/** Largest STDIN frame a run sends (as `hoop exec`). */
const INPUT_CHUNK_BYTES = 64 * 1024;

const decoder = new TextDecoder();

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Run `input` in `session`; never throws: a cut session comes back with
 * `exit_code: null` and `error`. Output past `maxOutputBytes` (stdout and
 * stderr together) cuts the session and sets `truncated`. The session's connection is
 * closed when the run ends.
 */
export async function runCommand(
  session: OwnSession,
  input: Uint8Array,
  opts: { maxOutputBytes: number; signal: AbortSignal },
): Promise<Omit<wire.RunCommandResponse, "session_id">> {
  const conn = session.conn;
  const done = endOnAbort(session, opts.signal);
  const sending = (async () => {
    for (let off = 0; off < input.length; off += INPUT_CHUNK_BYTES) {
      await writeFrame(conn, FrameType.STDIN, input.subarray(off, off + INPUT_CHUNK_BYTES));
    }
    await writeFrame(conn, FrameType.STDIN_EOF);
  })().catch(() => {
    // The command stopped reading (it exited): what it answered still counts.
  });
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  let total = 0;
  let truncated = false;
  let exitCode: number | null = null;
  let error: string | undefined;
  try {
    const reader = new FrameReader(conn);
    for (;;) {
      const f = await reader.next();
      if (!f) break;
      if (f.type === FrameType.STDOUT || f.type === FrameType.STDERR) {
        const room = opts.maxOutputBytes - total;
        const keep = f.payload.subarray(0, Math.max(0, room));
        (f.type === FrameType.STDOUT ? out : err).push(keep);
        total += keep.length;
        if (keep.length < f.payload.length) {
          truncated = true;
          session.end(`the run's output passed ${opts.maxOutputBytes} bytes`);
          error = `The output passed ${opts.maxOutputBytes} bytes: the session was cut`;
          break;
        }
      } else if (f.type === FrameType.ERROR) {
        error = decoder.decode(f.payload);
      } else if (f.type === FrameType.EXIT) {
        exitCode = parseExit(f.payload);
        break;
      }
    }
  } catch (e) {
    error ??= opts.signal.aborted
      ? String(opts.signal.reason)
      : `the session broke: ${reasonOf(e)}`;
  } finally {
    done();
  }
  await sending;
  if (exitCode === null && error === undefined) {
    error = opts.signal.aborted
      ? String(opts.signal.reason)
      : "the session ended without an exit code: the agent went away";
  }
  const join = (parts: Uint8Array[]) => decoder.decode(concatBytes(parts));
  const answer: Omit<wire.RunCommandResponse, "session_id"> = {
    type: "command",
    stdout: join(out),
    stderr: join(err),
    exit_code: exitCode,
    truncated,
  };
  if (error !== undefined) answer.error = error;
  return answer;
}

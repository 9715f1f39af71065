/**
 * The backend's hello on its way to a listener client: the messages the
 * agent's front end sends after its login (`AuthenticationOk`,
 * `ParameterStatus`..., `BackendKeyData`, `ReadyForQuery`) are read one by
 * one, exactly, and passed on with the `BackendKeyData` swapped for the
 * listener's own key. It ends at the first `ReadyForQuery`, so the rest of
 * the session is a plain splice.
 *
 * @module
 */
import { concatBytes, readFull, writeAll } from "../../proto/bytes.ts";
import { HoopError } from "../../proto/errors.ts";
import { encodeBackendKeyData, parseBackendKeyData, readInt32 } from "../../proto/pgwire/mod.ts";
import type { BackendKey } from "./cancel_keys.ts";

/**
 * Largest message accepted in the hello (a `ParameterStatus` or a notice is a
 * few dozen bytes); a larger one ends the session as a protocol violation.
 */
export const MAX_HELLO_MESSAGE_BYTES = 64 * 1024;

/**
 * Hello bytes held before they are written to the client: the agent sends its
 * hello at once, so it normally leaves in one write; past this bound what is
 * held is written and reading goes on.
 */
const HELLO_FLUSH_BYTES = 64 * 1024;

/**
 * Carry the agent's hello to `client` with `swapKey` choosing the key the
 * client sees. Stops after the first `ReadyForQuery`, an `ErrorResponse`
 * (the login failed; the agent closes next) or the agent's end of stream.
 * Resolves with the bytes written to `client`.
 */
export async function relayBackendHello(
  agent: Deno.Conn,
  client: Deno.Conn,
  swapKey: (backend: BackendKey) => BackendKey,
): Promise<number> {
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  let written = 0;
  const flush = async () => {
    if (!heldBytes) return;
    const out = concatBytes(held);
    held.length = 0;
    heldBytes = 0;
    await writeAll(client, out);
    written += out.length;
  };
  for (;;) {
    const head = await readFull(agent, 5, "the PostgreSQL backend's hello");
    if (!head) break;
    const type = String.fromCharCode(head[0]);
    const len = readInt32(head, 1);
    if (len < 4 || len - 4 > MAX_HELLO_MESSAGE_BYTES) {
      throw new HoopError(
        "invalid_argument",
        `Cannot relay the PostgreSQL backend's hello: a "${type}" message of ${len} bytes is outside 4..${
          MAX_HELLO_MESSAGE_BYTES + 4
        }`,
      );
    }
    const body = len > 4
      ? await readFull(agent, len - 4, "the PostgreSQL backend's hello")
      : new Uint8Array(0);
    if (!body) {
      throw new Deno.errors.UnexpectedEof(
        "Cannot relay the PostgreSQL backend's hello: the stream ended",
      );
    }
    const parts = type === "K" ? [swapped(swapKey(parseBackendKeyData(body)))] : [head, body];
    held.push(...parts);
    for (const p of parts) heldBytes += p.length;
    if (type === "Z" || type === "E") break;
    if (heldBytes >= HELLO_FLUSH_BYTES) await flush();
  }
  await flush();
  return written;
}

function swapped(key: BackendKey): Uint8Array {
  return encodeBackendKeyData(key.pid, key.secret);
}

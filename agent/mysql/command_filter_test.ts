import assert from "node:assert/strict";
import { concatBytes } from "../../proto/bytes.ts";
import { encodePacket, MAX_PACKET_PAYLOAD } from "../../proto/mysql/mod.ts";
import { CHANGE_USER_REFUSED, CommandFilter } from "./command_filter.ts";

/** A client conn that delivers `input` in `chunk`-byte reads and records what is written to it. */
function fakeClient(input: Uint8Array, chunk: number) {
  let at = 0;
  const written: Uint8Array[] = [];
  const conn = {
    read(buf: Uint8Array) {
      if (at >= input.length) return Promise.resolve(null);
      const n = Math.min(chunk, buf.length, input.length - at);
      buf.set(input.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
    write(p: Uint8Array) {
      written.push(p.slice());
      return Promise.resolve(p.length);
    },
  } as unknown as Deno.Conn;
  return { conn, written };
}

async function drain(f: CommandFilter, size = 1000): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  const buf = new Uint8Array(size);
  for (;;) {
    const n = await f.read(buf);
    if (n === null) return concatBytes(out);
    out.push(buf.slice(0, n));
  }
}

const cat = (...parts: Uint8Array[]) => concatBytes(parts);
const query = (sql: string) =>
  encodePacket(0, cat(Uint8Array.of(3), new TextEncoder().encode(sql)));
const changeUser = encodePacket(0, cat(Uint8Array.of(0x11), new TextEncoder().encode("root\0pw")));

Deno.test("CommandFilter drops COM_CHANGE_USER and answers it, in reads of any size", async () => {
  const before = query("SELECT 1");
  const after = query("SELECT 2");
  for (const chunk of [1, 2, 3, 5, 7, 64, 1000]) {
    const { conn, written } = fakeClient(cat(before, changeUser, after), chunk);
    const passed = await drain(new CommandFilter(conn, new Uint8Array(0)));
    assert.deepEqual(passed, cat(before, after), `reads of ${chunk} bytes`);
    assert.deepEqual(written, [CHANGE_USER_REFUSED]);
  }
});

Deno.test("CommandFilter passes a 0x11 byte that does not start a command", async () => {
  // The continuation of a message split at 16 MiB and a packet of a later
  // sequence id start with 0x11 too: neither is a command.
  const big = new Uint8Array(MAX_PACKET_PAYLOAD + 3).fill(0x11);
  big[0] = 3;
  const split = encodePacket(0, big);
  const later = encodePacket(2, Uint8Array.of(0x11, 1, 2));
  const { conn, written } = fakeClient(cat(split, later), 1 << 20);
  const passed = await drain(new CommandFilter(conn, new Uint8Array(0)), 1 << 20);
  assert.equal(passed.length, split.length + later.length);
  assert.equal(written.length, 0);
});

Deno.test("CommandFilter filters the bytes buffered during the login too", async () => {
  const { conn, written } = fakeClient(query("SELECT 3"), 4);
  const passed = await drain(new CommandFilter(conn, changeUser));
  assert.deepEqual(passed, query("SELECT 3"));
  assert.equal(written.length, 1);
});

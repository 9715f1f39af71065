/**
 * Fuzz tests of the data-plane header decoders: {@linkcode readHeader} and
 * {@linkcode readStatus} over randomly split, mutated and stalled streams.
 *
 * @module
 */
import assert from "node:assert/strict";
import { concatBytes } from "./bytes.ts";
import { fuzzBytes, fuzzConn, type Rng } from "./_fuzz.ts";
import {
  DATA_HEADER_BYTES,
  DataHeaderError,
  DataSide,
  encodeHeader,
  MAX_STATUS_MESSAGE_BYTES,
  readHeader,
  readStatus,
  writeStatus,
} from "./data_header.ts";

/** Generous: the fake conn answers at once, so only a hang reaches it. */
const READ_TIMEOUT_MS = 1_500;
/** Short, for the stalled-peer inputs that must end at the deadline. */
const STALL_TIMEOUT_MS = 5;
/** Stalled inputs cost a timer each: a few per run are enough. */
const STALL_ITERATIONS = 20;

const ticket = (fill: number) => new Uint8Array(32).fill(fill);
const HEADERS = [
  encodeHeader(DataSide.CLIENT, ticket(0)),
  encodeHeader(DataSide.AGENT, ticket(0xff)),
  concatBytes([encodeHeader(DataSide.CLIENT, ticket(7)), new Uint8Array([1, 2, 3])]),
];

async function statusBytes(code: number, message = ""): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  const sink = { write: (p: Uint8Array) => (out.push(p.slice()), Promise.resolve(p.length)) };
  await writeStatus(sink as unknown as Deno.Conn, code, message);
  return concatBytes(out);
}

const STATUSES = [
  await statusBytes(0),
  await statusBytes(2, "Cannot accept data connection: the ticket is unknown"),
  await statusBytes(3, "é".repeat(600)),
  await statusBytes(255),
];

async function checkHeader(input: Uint8Array, rng: Rng): Promise<void> {
  const conn = fuzzConn(input, rng);
  const h = await readHeader(conn as unknown as Deno.Conn, READ_TIMEOUT_MS);
  assert.ok(h.side === DataSide.CLIENT || h.side === DataSide.AGENT || h.side === DataSide.WARM);
  assert.equal(h.ticket.length, 32);
  assert.equal(conn.consumed, DATA_HEADER_BYTES, "the header reader must not eat session bytes");
}

async function checkStatus(input: Uint8Array, rng: Rng): Promise<void> {
  const conn = fuzzConn(input, rng);
  const s = await readStatus(conn as unknown as Deno.Conn, READ_TIMEOUT_MS);
  if (s.ok) {
    assert.equal(conn.consumed, 1);
    return;
  }
  assert.ok(s.code >= 1 && s.code <= 255);
  const bytes = new TextEncoder().encode(s.message).length;
  // Invalid UTF-8 decodes to U+FFFD (3 bytes) per bad byte: bound by raw length.
  assert.ok(conn.consumed <= 3 + MAX_STATUS_MESSAGE_BYTES);
  assert.ok(bytes <= 3 * MAX_STATUS_MESSAGE_BYTES);
}

Deno.test("readHeader() fuzzed: a checked header of exactly 38 bytes or a DataHeaderError", async () => {
  await fuzzBytes({
    name: "readHeader",
    seeds: HEADERS,
    expected: (err) => err instanceof DataHeaderError,
    run: checkHeader,
  });
});

Deno.test("readStatus() fuzzed: a bounded status or a DataHeaderError", async () => {
  await fuzzBytes({
    name: "readStatus",
    seeds: STATUSES,
    expected: (err) => err instanceof DataHeaderError,
    run: checkStatus,
  });
});

Deno.test("readHeader() and readStatus() fuzzed: a stalled peer ends at the deadline", async () => {
  await fuzzBytes({
    name: "readHeader+readStatus stalled",
    seeds: [...HEADERS, ...STATUSES],
    iterations: STALL_ITERATIONS,
    expected: (err) => err instanceof DataHeaderError,
    async run(input, rng) {
      const stallAfter = rng.int(input.length + 1);
      const conn = fuzzConn(input, rng, { stallAfter });
      const read = rng.chance(0.5) ? readHeader : readStatus;
      try {
        await read(conn as unknown as Deno.Conn, STALL_TIMEOUT_MS);
      } catch (err) {
        // A timeout must close the conn, or a pending read would swallow session bytes later.
        if (err instanceof DataHeaderError && err.code === "unavailable") assert.ok(conn.closed);
        throw err;
      }
    },
  });
});

import assert from "node:assert/strict";
import { readFull, writeAll } from "./bytes.ts";
import {
  DATA_HEADER_BYTES,
  DATA_PROTOCOL_VERSION,
  DataHeaderError,
  DataSide,
  DataStatus,
  encodeHeader,
  MAX_STATUS_MESSAGE_BYTES,
  readHeader,
  readStatus,
  writeStatus,
} from "./data_header.ts";
import { generateTicket } from "./keys.ts";

/** Two ends of one loopback TCP connection; closes both on dispose. */
async function tcpPair(): Promise<
  { client: Deno.TcpConn; server: Deno.TcpConn } & AsyncDisposable
> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  return {
    client,
    server,
    [Symbol.asyncDispose]() {
      for (const c of [client, server]) {
        try {
          c.close();
        } catch {
          // closed by the test
        }
      }
      return Promise.resolve();
    },
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const TIMEOUT_MS = 10_000;

Deno.test("encodeHeader() lays out magic, version, side and ticket in 38 bytes", () => {
  const ticket = generateTicket();
  const h = encodeHeader(DataSide.AGENT, ticket);
  assert.equal(h.length, DATA_HEADER_BYTES);
  assert.equal(DATA_HEADER_BYTES, 38);
  assert.deepEqual([...h.subarray(0, 6)], [0x48, 0x4f, 0x4f, 0x50, DATA_PROTOCOL_VERSION, 2]);
  assert.deepEqual(h.subarray(6), ticket);
  assert.throws(() => encodeHeader(DataSide.CLIENT, new Uint8Array(31)), /31 bytes, expected 32/);
  assert.throws(() => encodeHeader(4 as DataSide, ticket), /unknown side 4/);
});

Deno.test("readHeader() reads the header and leaves session bytes unread", async () => {
  await using p = await tcpPair();
  const ticket = generateTicket();
  const header = encodeHeader(DataSide.CLIENT, ticket);
  // Header and session bytes in one write: the reader must stop at byte 38.
  const both = new Uint8Array(header.length + 5);
  both.set(header);
  both.set(enc.encode("hello"), header.length);
  await writeAll(p.client, both);
  const got = await readHeader(p.server, TIMEOUT_MS);
  assert.equal(got.side, DataSide.CLIENT);
  assert.deepEqual(got.ticket, ticket);
  assert.equal(dec.decode((await readFull(p.server, 5))!), "hello");
});

Deno.test("readHeader() rejects bad magic at once", async () => {
  await using p = await tcpPair();
  // An HTTP probe is shorter than a header: refusal must not wait for 38 bytes.
  await writeAll(p.client, enc.encode("GET "));
  await assert.rejects(
    readHeader(p.server, TIMEOUT_MS),
    (err: unknown) =>
      err instanceof DataHeaderError && err.status === DataStatus.BAD_HEADER &&
      err.message === "Cannot accept data connection: bad magic: not a hoop data connection",
  );
});

Deno.test("readHeader() recognises a TLS client on the plain data port", async () => {
  await using p = await tcpPair();
  await writeAll(p.client, new Uint8Array([0x16, 0x03, 0x01, 0x02]));
  await assert.rejects(
    readHeader(p.server, TIMEOUT_MS),
    {
      message:
        "Cannot accept data connection: bad magic: this looks like a TLS handshake, but the data port is plain TCP",
    },
  );
});

Deno.test("readHeader() rejects another protocol version", async () => {
  await using p = await tcpPair();
  const h = encodeHeader(DataSide.CLIENT, generateTicket());
  h[4] = 2;
  await writeAll(p.client, h);
  await assert.rejects(readHeader(p.server, TIMEOUT_MS), {
    name: "DataHeaderError",
    message:
      "Cannot accept data connection: protocol version 2 is not supported: this side speaks version 1",
  });
});

Deno.test("readHeader() rejects an unknown side", async () => {
  await using p = await tcpPair();
  const h = encodeHeader(DataSide.CLIENT, generateTicket());
  h[5] = 9;
  await writeAll(p.client, h);
  await assert.rejects(readHeader(p.server, TIMEOUT_MS), {
    message:
      "Cannot accept data connection: unknown side 9: expected 1 (client), 2 (agent) or 3 (warm)",
  });
});

Deno.test("readHeader() reports a connection closed before or inside the header", async (t) => {
  await t.step("before", async () => {
    await using p = await tcpPair();
    p.client.close();
    await assert.rejects(readHeader(p.server, TIMEOUT_MS), {
      message: "Cannot read data header: the connection closed before sending it",
    });
  });
  await t.step("inside", async () => {
    await using p = await tcpPair();
    await writeAll(p.client, encodeHeader(DataSide.AGENT, generateTicket()).subarray(0, 20));
    await p.client.closeWrite();
    await assert.rejects(readHeader(p.server, TIMEOUT_MS), {
      message: "Cannot read data header: the connection closed after 20 of 38 bytes",
    });
  });
});

Deno.test("readHeader() gives up after the deadline and closes the connection", async () => {
  await using p = await tcpPair();
  await writeAll(p.client, enc.encode("HOOP"));
  await assert.rejects(
    readHeader(p.server, 50),
    (err: unknown) =>
      err instanceof DataHeaderError && err.code === "unavailable" &&
      err.message === "Cannot read data header: no answer within 50 ms",
  );
  // The silent peer learns the connection is gone.
  assert.equal(await p.client.read(new Uint8Array(1)), null);
});

Deno.test("writeStatus() and readStatus() carry acceptance without over-reading", async () => {
  await using p = await tcpPair();
  await writeStatus(p.server, DataStatus.OK);
  await writeAll(p.server, enc.encode("session"));
  assert.deepEqual(await readStatus(p.client, TIMEOUT_MS), { ok: true });
  assert.equal(dec.decode((await readFull(p.client, 7))!), "session");
});

Deno.test("writeStatus() and readStatus() carry a refusal with its message", async () => {
  await using p = await tcpPair();
  await writeStatus(p.server, DataStatus.BAD_TICKET, "Cannot open session: the ticket expired");
  p.server.close();
  assert.deepEqual(await readStatus(p.client, TIMEOUT_MS), {
    ok: false,
    code: 2,
    message: "Cannot open session: the ticket expired",
  });
});

Deno.test("writeStatus() cuts long messages at a character boundary", async () => {
  await using p = await tcpPair();
  // "é" is two bytes: 1023 "a" + "é" would split it at 1024.
  await writeStatus(p.server, DataStatus.INTERNAL, "a".repeat(1023) + "é" + "b".repeat(100));
  const status = await readStatus(p.client, TIMEOUT_MS);
  assert.equal(status.ok, false);
  if (!status.ok) {
    assert.equal(status.code, DataStatus.INTERNAL);
    assert.equal(status.message, "a".repeat(1023));
    assert.ok(enc.encode(status.message).length <= MAX_STATUS_MESSAGE_BYTES);
  }
  await assert.rejects(writeStatus(p.server, 256), RangeError);
});

Deno.test("readStatus() reports a gateway that closes before answering", async () => {
  await using p = await tcpPair();
  p.server.close();
  await assert.rejects(readStatus(p.client, TIMEOUT_MS), {
    name: "DataHeaderError",
    message: "Cannot read data status: the gateway closed the connection before answering",
  });
});

Deno.test("readStatus() rejects an oversized message length", async () => {
  await using p = await tcpPair();
  await writeAll(p.server, new Uint8Array([3, 0x04, 0x01]));
  await assert.rejects(readStatus(p.client, TIMEOUT_MS), {
    message: "Cannot read data status: the message has 1025 bytes, more than 1024",
  });
});

Deno.test("readStatus() gives up after the deadline", async () => {
  await using p = await tcpPair();
  await assert.rejects(readStatus(p.client, 50), {
    message: "Cannot read data status: no answer within 50 ms",
  });
});

Deno.test("readFull() returns null at end of stream and throws part way", async () => {
  await using p = await tcpPair();
  await writeAll(p.client, enc.encode("abc"));
  await p.client.closeWrite();
  assert.equal(dec.decode((await readFull(p.server, 2))!), "ab");
  await assert.rejects(readFull(p.server, 2), Deno.errors.UnexpectedEof);
  assert.equal(await readFull(p.server, 2), null);
});

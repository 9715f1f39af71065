import assert from "node:assert/strict";
// Test-only reference implementation; kept out of deno.json so the product never loads it.
// deno-lint-ignore no-import-prefix
import protobuf from "npm:protobufjs@8.8.1";
import {
  decodePacket,
  encodePacket,
  makePacket,
  type Packet,
  PacketDecodeError,
  PacketType,
  payloadJson,
  specString,
} from "./packet.ts";

const enc = new TextEncoder();

Deno.test("encodePacket() and decodePacket() round-trip an empty packet", () => {
  const empty: Packet = { type: "", spec: {}, payload: new Uint8Array(0) };
  const bytes = encodePacket(empty);
  assert.equal(bytes.length, 0);
  assert.deepEqual(decodePacket(bytes), empty);
});

Deno.test("encodePacket() and decodePacket() round-trip binary spec values", () => {
  const p: Packet = {
    type: PacketType.SESSION_OPEN,
    spec: {
      sid: enc.encode("4b1c"),
      ticket: Uint8Array.from({ length: 32 }, (_, i) => 255 - i),
      zeros: new Uint8Array([0, 0, 0]),
      empty: new Uint8Array(0),
      "ключ": enc.encode("значение"),
    },
    payload: enc.encode('{"host":"db"}'),
  };
  assert.deepEqual(decodePacket(encodePacket(p)), p);
});

Deno.test("encodePacket() and decodePacket() round-trip a large payload", () => {
  // Past 2^21 bytes the length needs a four-byte varint.
  const payload = new Uint8Array(3 * 1024 * 1024 + 5);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
  const p: Packet = { type: "X", spec: { big: payload.subarray(0, 200_000) }, payload };
  assert.deepEqual(decodePacket(encodePacket(p)), p);
});

Deno.test("makePacket() builds string specs and JSON payloads that read back", () => {
  const p = decodePacket(
    encodePacket(makePacket(PacketType.HELLO, { version: "1.2.3", hostname: undefined }, { a: 1 })),
  );
  assert.equal(p.type, "HELLO");
  assert.equal(specString(p, "version"), "1.2.3");
  assert.equal(specString(p, "hostname"), undefined);
  assert.deepEqual(payloadJson(p), { a: 1 });
});

// HELLO, spec {version: "1"}, payload [1, 2], encoded by hand:
//   0a 05 "HELLO"                      field 1 (type), length 5
//   12 0c  0a 07 "version" 12 01 "1"   field 2 (map entry of 12 bytes: key, value)
//   1a 02 01 02                        field 3 (payload), length 2
const HELLO_BYTES = new Uint8Array([
  0x0a,
  0x05,
  0x48,
  0x45,
  0x4c,
  0x4c,
  0x4f,
  0x12,
  0x0c,
  0x0a,
  0x07,
  0x76,
  0x65,
  0x72,
  0x73,
  0x69,
  0x6f,
  0x6e,
  0x12,
  0x01,
  0x31,
  0x1a,
  0x02,
  0x01,
  0x02,
]);
const HELLO: Packet = {
  type: "HELLO",
  spec: { version: enc.encode("1") },
  payload: new Uint8Array([1, 2]),
};

Deno.test("encodePacket() matches a hand-computed protobuf encoding", () => {
  assert.deepEqual(encodePacket(HELLO), HELLO_BYTES);
  assert.deepEqual(decodePacket(HELLO_BYTES), HELLO);
});

Deno.test("decodePacket() skips unknown fields of every wire type", () => {
  const extra = new Uint8Array([
    0x20,
    0x96,
    0x01, // field 4 varint 150
    0x29,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8, // field 5 fixed64
    0x35,
    1,
    2,
    3,
    4, // field 6 fixed32
    0x3a,
    0x02,
    0xaa,
    0xbb, // field 7 bytes
  ]);
  const bytes = new Uint8Array(HELLO_BYTES.length + extra.length);
  bytes.set(extra);
  bytes.set(HELLO_BYTES, extra.length);
  assert.deepEqual(decodePacket(bytes), HELLO);
});

Deno.test("decodePacket() rejects truncated input", () => {
  // Cuts at 7 and 21 fall between fields and leave a valid, shorter packet.
  for (let cut = 1; cut < HELLO_BYTES.length; cut++) {
    if (cut === 7 || cut === 21) continue;
    assert.throws(
      () => decodePacket(HELLO_BYTES.subarray(0, cut)),
      (err: unknown) =>
        err instanceof PacketDecodeError && err.message.startsWith("Cannot decode packet: "),
      `cut at ${cut}`,
    );
  }
  assert.throws(() => decodePacket(new Uint8Array([0x0a, 0x80])), {
    message: "Cannot decode packet: truncated varint",
  });
  assert.throws(() => decodePacket(new Uint8Array([0x1a, 0x05, 1])), {
    message: "Cannot decode packet: truncated field",
  });
});

Deno.test("packets are wire-compatible with protobufjs reading hoop.proto", async () => {
  const text = await Deno.readTextFile(new URL("./hoop.proto", import.meta.url));
  const Packet = protobuf.parse(text).root.lookupType("hoop.v1.Packet");
  const p: Packet = {
    type: PacketType.WELCOME,
    spec: {
      agent_id: enc.encode("7850eb2d"),
      data_tls: enc.encode("1"),
      raw: new Uint8Array([0, 255, 128]),
    },
    payload: new Uint8Array(70_000).fill(9),
  };

  // Ours → protobufjs.
  const theirs = Packet.toObject(Packet.decode(encodePacket(p)), { bytes: Array }) as {
    type: string;
    spec: Record<string, number[]>;
    payload: number[];
  };
  assert.equal(theirs.type, p.type);
  assert.deepEqual(Object.keys(theirs.spec).sort(), Object.keys(p.spec).sort());
  for (const [k, v] of Object.entries(p.spec)) assert.deepEqual(theirs.spec[k], [...v]);
  assert.deepEqual(theirs.payload, [...p.payload]);

  // protobufjs → ours.
  const encoded = Packet.encode(
    Packet.fromObject({ type: p.type, spec: p.spec, payload: p.payload }),
  ).finish();
  const back = decodePacket(new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength));
  assert.equal(back.type, p.type);
  assert.deepEqual(Object.keys(back.spec).sort(), Object.keys(p.spec).sort());
  for (const [k, v] of Object.entries(p.spec)) assert.deepEqual([...back.spec[k]], [...v]);
  assert.deepEqual([...back.payload], [...p.payload]);
});

import assert from "node:assert/strict";
import { HoopError } from "./errors.ts";
import { helloPacket, MAX_HELLO_TEXT_CHARS, parseHello } from "./hello.ts";
import { decodePacket, encodePacket, makePacket, PacketType, PROTOCOL_VERSION } from "./packet.ts";

const base = { version: "0.1.0", hostname: "vm", platform: "linux/amd64", protocol: 1 };

Deno.test("parseHello() reads back what helloPacket() sends, through the codec", () => {
  const hello = {
    ...base,
    protocol: PROTOCOL_VERSION,
    connection: { name: "pg", type: "postgres" as const, config: { uri: "postgres://a:***@h/db" } },
  };
  assert.deepEqual(parseHello(decodePacket(encodePacket(helloPacket(hello)))), hello);
});

Deno.test("parseHello() refuses another protocol version, naming both", () => {
  assert.throws(
    () => parseHello(helloPacket({ ...base, protocol: 2 })),
    (err: unknown) =>
      err instanceof HoopError && err.code === "failed_precondition" &&
      err.message ===
        `Cannot register agent: it speaks control protocol version 2, this gateway speaks version ${PROTOCOL_VERSION}`,
  );
  const none = makePacket(PacketType.HELLO, { version: "x" });
  assert.throws(() => parseHello(none), /unreadable control protocol version/);
});

Deno.test("parseHello() refuses malformed payloads with a typed error", () => {
  const spec = { protocol: String(PROTOCOL_VERSION) };
  const bad = [
    new TextEncoder().encode("{not json"),
    new Uint8Array([0xff, 0xfe]),
    new TextEncoder().encode("42"),
    new TextEncoder().encode('{"connection":"x"}'),
    new TextEncoder().encode('{"connection":{"name":"a","type":"ftp"}}'),
    new TextEncoder().encode('{"connection":{"name":"a","type":"tcp","config":{"k":1}}}'),
  ];
  for (const payload of bad) {
    assert.throws(
      () => parseHello(makePacket(PacketType.HELLO, spec, payload)),
      (err: unknown) => err instanceof HoopError && err.code === "invalid_argument",
      new TextDecoder().decode(payload),
    );
  }
  assert.throws(() => parseHello(makePacket(PacketType.HEARTBEAT)), /expected HELLO/);
});

Deno.test("parseHello() makes agent-reported text printable and short", () => {
  const h = parseHello(helloPacket({
    ...base,
    hostname: "evil\x1b]0;owned\x07\nERROR forged",
    version: "v".repeat(1000),
  }));
  assert.equal(h.hostname, "evil\\x1b]0;owned\\x07\\nERROR forged");
  assert.equal(h.version.length, MAX_HELLO_TEXT_CHARS);
});

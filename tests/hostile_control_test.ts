/**
 * Issue #10: a HELLO with a malformed payload left the control stream
 * hanging, and the protocol version an agent sent was never checked. A real
 * gateway now ends such a stream at once with a status and a sentence, and
 * keeps serving honest agents.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { parseDsn } from "../proto/dsn.ts";
import {
  AGENT_KEY_METADATA,
  AGENT_NAME_METADATA,
  type AgentControlCall,
  CHANNEL_OPTIONS,
  GatewayClient,
} from "../proto/grpc_service.ts";
import { makePacket, PacketType, PROTOCOL_VERSION } from "../proto/packet.ts";
import { hoopOk, parseTable, signupAdmin, startAgent, startGateway, waitFor } from "./_harness.ts";

/** Open a control stream with `dsn`'s key, send `hello`, and wait for how the gateway ends it. */
function helloOutcome(
  grpcUrl: string,
  dsnText: string,
  hello: ReturnType<typeof makePacket>,
): Promise<{ code: number; details: string }> {
  const dsn = parseDsn(dsnText);
  const client = new GatewayClient(
    new URL(grpcUrl).host,
    grpc.credentials.createInsecure(),
    CHANNEL_OPTIONS,
  );
  const md = new grpc.Metadata();
  md.set(AGENT_NAME_METADATA, dsn.name);
  md.set(AGENT_KEY_METADATA, dsn.key);
  const call = (client as unknown as { connect(md: grpc.Metadata): AgentControlCall }).connect(md);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      call.cancel();
      resolve({ code: -1, details: "no answer within 5 s: the stream hangs" });
    }, 5_000);
    call.on("data", () => {});
    call.on("error", (err: grpc.ServiceError) => {
      clearTimeout(timer);
      client.close();
      resolve({ code: err.code, details: err.details });
    });
    call.write(hello);
  });
}

Deno.test("the gateway ends a malformed or incompatible HELLO at once, with a reason", async (t) => {
  await using gw = await startGateway();
  const admin = await signupAdmin(gw);
  const key = (await hoopOk(["admin", "create", "agent", "dev"], { env: admin.env })).stdout.trim();
  const protocol = String(PROTOCOL_VERSION);

  await t.step("a payload that is not JSON: INVALID_ARGUMENT, no hang", async () => {
    const r = await helloOutcome(
      gw.grpcUrl,
      key,
      makePacket(PacketType.HELLO, { protocol }, new TextEncoder().encode("{oops")),
    );
    assert.equal(r.code, grpc.status.INVALID_ARGUMENT, r.details);
    assert.match(r.details, /Cannot read HELLO: its payload is not valid JSON/);
  });

  await t.step("another protocol version: refused, naming both versions", async () => {
    const r = await helloOutcome(gw.grpcUrl, key, makePacket(PacketType.HELLO, { protocol: "99" }));
    assert.equal(r.code, grpc.status.FAILED_PRECONDITION, r.details);
    assert.match(
      r.details,
      new RegExp(`speaks control protocol version 99, this gateway speaks version ${protocol}`),
    );
  });

  await t.step("an honest agent still comes ONLINE with printable fields", async () => {
    await using _agent = await startAgent(key);
    await waitFor(async () => {
      const r = await hoopOk(["admin", "get", "agents"], { env: admin.env });
      return parseTable(r.stdout).find((row) => row.NAME === "dev" && row.STATUS === "ONLINE");
    }, { timeoutMs: 10_000, message: "agent dev ONLINE" });
    assert.equal(gw.hasExited(), false);
  });
});

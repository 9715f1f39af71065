/**
 * The gRPC service of `hoop.proto`, defined for `npm:@grpc/grpc-js` without
 * proto-loader: the method table uses the hand-written Packet codec, so the
 * compiled binary carries no `.proto` file.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { decodePacket, encodePacket, MAX_PACKET_BYTES, type Packet } from "./packet.ts";

function serialize(p: Packet): Buffer {
  const bytes = encodePacket(p);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function deserialize(b: Buffer): Packet {
  return decodePacket(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
}

/** `hoop.v1.Gateway` as a grpc-js service definition. */
export const GATEWAY_SERVICE = {
  connect: {
    path: "/hoop.v1.Gateway/Connect",
    requestStream: true,
    responseStream: true,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  },
} satisfies grpc.ServiceDefinition;

/** Metadata key carrying the agent's name (from its key). */
export const AGENT_NAME_METADATA = "x-hoop-agent";
/** Metadata key carrying the agent's auth key (`xagt-...`). */
export const AGENT_KEY_METADATA = "authorization";

/** Channel options both sides use: bounded messages, keepalive to spot dead peers. */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": MAX_PACKET_BYTES,
  "grpc.max_send_message_length": MAX_PACKET_BYTES,
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
};

/** A client constructor for the Gateway service. */
export const GatewayClient = grpc.makeGenericClientConstructor(GATEWAY_SERVICE, "Gateway");

/** The bidirectional stream of one agent's control channel, as the agent sees it. */
export type AgentControlCall = grpc.ClientDuplexStream<Packet, Packet>;
/** The same stream, as the gateway sees it. */
export type GatewayControlCall = grpc.ServerDuplexStream<Packet, Packet>;

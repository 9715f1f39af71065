/**
 * The gateway's side of an agent's control stream (see proto/hoop.proto for
 * the flow): authenticate the key, take HELLO, mark the agent ONLINE, keep
 * heartbeats, pass SESSION_FAILED to the broker, and mark it OFFLINE when the
 * stream ends for any reason.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { DataSide } from "../proto/data_header.ts";
import { validateName } from "../proto/dsn.ts";
import { HoopError } from "../proto/errors.ts";
import { type Hello, parseHello, type PublishedConnection } from "../proto/hello.ts";
import { printable } from "../proto/printable.ts";
import {
  AGENT_KEY_METADATA,
  AGENT_NAME_METADATA,
  type GatewayControlCall,
} from "../proto/grpc_service.ts";
import { sha256Hex, timingSafeEqual } from "../proto/keys.ts";
import type { Logger } from "../proto/log.ts";
import {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_MS,
  makePacket,
  type Packet,
  PacketType,
  specString,
} from "../proto/packet.ts";
import type { AgentLink, CloseReason, PresenceRegistry } from "./presence.ts";
import type { SessionBroker } from "./broker/mod.ts";
import type { WarmParking } from "./warm_parking.ts";
import { type Agent, type Store, StoreConflictError } from "./store/store.ts";

/** What the control-stream handler needs from the gateway. */
export interface ControlContext {
  store: Store;
  presence: PresenceRegistry;
  broker: SessionBroker;
  log: Logger;
  /** `host:port` agents dial for data connections. */
  dataAddr: string;
  dataTls: boolean;
  /** Where the agent's warm data connections park; WELCOME carries no warm key without it. */
  parking?: WarmParking;
}

/** Longest SESSION_FAILED message kept from an agent (longer ones are cut). */
const MAX_AGENT_MESSAGE_CHARS = 1024;

/** How long an agent may take to send HELLO. */
const HELLO_TIMEOUT_MS = 10_000;

/** Message of every authentication failure; the agent exits on it. */
export const UNAUTHORIZED_MESSAGE = "unauthorized: key revoked or unknown";

type Identity =
  | { kind: "agent"; agent: Agent }
  | { kind: "orgkey" };

async function authenticate(
  ctx: ControlContext,
  call: GatewayControlCall,
): Promise<Identity | undefined> {
  const name = call.metadata.get(AGENT_NAME_METADATA)[0]?.toString() ?? "";
  const key = call.metadata.get(AGENT_KEY_METADATA)[0]?.toString() ?? "";
  if (!key.startsWith("xagt-")) return undefined;
  const hash = await sha256Hex(key);
  const agent = name ? await ctx.store.getAgentByName(name) : undefined;
  if (agent && agent.keyHash && !agent.viaOrgKey && timingSafeEqual(hash, agent.keyHash)) {
    return { kind: "agent", agent };
  }
  const org = await ctx.store.getOrgKey();
  if (org && timingSafeEqual(hash, org.keyHash)) return { kind: "orgkey" };
  return undefined;
}

function fail(call: GatewayControlCall, code: grpc.status, details: string): void {
  call.emit("error", { code, details, metadata: new grpc.Metadata() });
}

/** Serve one agent's control stream until it ends. */
export async function handleControlStream(
  ctx: ControlContext,
  call: GatewayControlCall,
): Promise<void> {
  const peer = call.getPeer();
  const inbox = new Inbox(call);
  let identity: Identity | undefined;
  try {
    identity = await authenticate(ctx, call);
  } catch (err) {
    ctx.log.error("cannot authenticate agent", { peer, err });
    fail(call, grpc.status.UNAVAILABLE, "the gateway cannot check keys right now");
    return;
  }
  if (!identity) {
    ctx.log.warn("agent refused: key revoked or unknown", {
      peer,
      agent: call.metadata.get(AGENT_NAME_METADATA)[0]?.toString(),
    });
    fail(call, grpc.status.UNAUTHENTICATED, UNAUTHORIZED_MESSAGE);
    return;
  }
  const first = await inbox.next(HELLO_TIMEOUT_MS);
  if (!first) {
    fail(call, grpc.status.INVALID_ARGUMENT, "expected HELLO as the first packet");
    return;
  }
  let hello: Hello;
  try {
    hello = parseHello(first);
  } catch (err) {
    const e = err instanceof HoopError ? err : new HoopError("invalid_argument", String(err));
    ctx.log.warn("agent refused: bad HELLO", { peer, err: e.message });
    fail(call, e.grpcStatus, e.hint ? `${e.message}\nHint: ${e.hint}` : e.message);
    return;
  }
  const published = hello.connection;
  let agent: Agent;
  try {
    agent = await resolveAgent(ctx, identity, published);
  } catch (err) {
    const msg = err instanceof HoopError ? err.message : "the gateway could not register the agent";
    if (!(err instanceof HoopError)) ctx.log.error("cannot register agent", { peer, err });
    fail(call, err instanceof HoopError ? err.grpcStatus : grpc.status.INTERNAL, msg);
    return;
  }
  const log = ctx.log.with({ agent: agent.name });
  let lastHeard = Date.now();
  let closed = false;
  let heartbeat: ReturnType<typeof setInterval> | undefined = undefined;

  const link: AgentLink = {
    agentId: agent.id,
    agentName: agent.name,
    viaOrgKey: agent.viaOrgKey,
    send(packet: Packet): boolean {
      if (closed) return false;
      call.write(packet);
      return true;
    },
    close(reason: CloseReason): void {
      if (closed) return;
      // Clean up first: ending the call emits "error"/"end", whose handlers
      // would otherwise record a vaguer reason.
      cleanup(`closed: ${reason}`);
      const type = reason === "revoked" ? PacketType.REVOKED : PacketType.SHUTDOWN;
      call.write(makePacket(type, { reason }));
      if (reason === "revoked") fail(call, grpc.status.UNAUTHENTICATED, UNAUTHORIZED_MESSAGE);
      else call.end();
    },
  };

  /** This stream's warm key (issued with WELCOME, revoked with the stream). */
  const warm: { key?: string } = {};
  const cleanup = (why: string) => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    ctx.presence.remove(link);
    ctx.broker.endAgentSessions(agent.id, `agent "${agent.name}" disconnected`);
    if (warm.key) ctx.parking?.revoke(warm.key);
    log.info("agent offline", { reason: why });
    if (!ctx.presence.get(agent.id)) {
      ctx.store.updateAgentPresence(agent.id, {
        status: "OFFLINE",
        seenAt: new Date().toISOString(),
      }).catch((err) => log.debug("cannot mark agent offline", { err }));
    }
  };

  // Listen before the first await below: an agent that drops out during
  // registration must not stay ONLINE until the heartbeat timeout.
  call.on("end", () => {
    cleanup("stream ended");
    try {
      call.end();
    } catch {
      // Already ended.
    }
  });
  call.on(
    "error",
    (err: Partial<grpc.ServiceError>) => cleanup(`stream error: ${err.details ?? err.message}`),
  );
  call.on("cancelled", () => cleanup("stream cancelled"));
  call.on("close", () => cleanup("stream closed"));
  if (call.cancelled || call.destroyed || call.readableEnded) {
    // Gone before it was ONLINE: nothing to undo (and another link of the
    // same agent, if any, keeps its sessions).
    closed = true;
    log.info("agent left during registration");
    return;
  }

  const prior = ctx.presence.add(link);
  prior?.close("replaced");
  const now = new Date().toISOString();
  try {
    await ctx.store.updateAgentPresence(agent.id, {
      status: "ONLINE",
      version: hello.version,
      hostname: hello.hostname,
      platform: hello.platform,
      connectedAt: now,
      seenAt: now,
    });
  } catch (err) {
    // Deleted between authentication and now: treat as revoked.
    log.warn("agent vanished during registration", { err });
    link.close("revoked");
    return;
  }
  if (closed) {
    // The stream ended while ONLINE was being written; cleanup's OFFLINE may
    // have landed first, so write it again, after ONLINE.
    if (!ctx.presence.get(agent.id)) {
      await ctx.store.updateAgentPresence(agent.id, {
        status: "OFFLINE",
        seenAt: new Date().toISOString(),
      }).catch((err) => log.debug("cannot mark agent offline", { err }));
    }
    return;
  }
  warm.key = ctx.parking?.issue(agent.id, DataSide.AGENT);
  link.send(makePacket(PacketType.WELCOME, {
    agent_id: agent.id,
    agent_name: agent.name,
    data_addr: ctx.dataAddr,
    data_tls: ctx.dataTls ? "1" : "0",
    warm_key: warm.key,
  }));
  log.info("agent online", {
    version: hello.version,
    hostname: hello.hostname,
    platform: hello.platform,
    conn: published?.name,
  });

  heartbeat = setInterval(() => {
    if (Date.now() - lastHeard > HEARTBEAT_TIMEOUT_MS) {
      log.warn("agent heartbeat timed out");
      link.close("heartbeat_timeout");
      return;
    }
    link.send(makePacket(PacketType.HEARTBEAT));
  }, HEARTBEAT_INTERVAL_MS);

  inbox.setHandler((p: Packet) => {
    lastHeard = Date.now();
    switch (p.type) {
      case PacketType.HEARTBEAT:
        ctx.store.updateAgentPresence(agent.id, {
          status: "ONLINE",
          seenAt: new Date().toISOString(),
        })
          .catch(() => {});
        break;
      case PacketType.SESSION_FAILED: {
        const sid = specString(p, "sid") ?? "";
        // Shown to the user and logged: the agent's words, made printable and short.
        const message = printable(
          specString(p, "message") ?? "the agent could not open the session",
          MAX_AGENT_MESSAGE_CHARS,
        );
        log.info("agent could not open session", { sid, message });
        ctx.broker.agentFailed(agent.id, sid, message);
        break;
      }
      default:
        log.debug("ignored packet", { type: p.type });
    }
  });
}

/**
 * Buffers the stream's packets until a handler is set, so the HELLO can be
 * awaited without pausing the stream and no packet is lost in between.
 */
class Inbox {
  #queue: Packet[] = [];
  #handler?: (p: Packet) => void;
  #waiter?: (p: Packet | undefined) => void;

  constructor(call: GatewayControlCall) {
    call.on("data", (p: Packet) => {
      if (this.#handler) this.#handler(p);
      else if (this.#waiter) {
        const w = this.#waiter;
        this.#waiter = undefined;
        w(p);
      } else if (this.#queue.length < 64) this.#queue.push(p);
    });
    const end = () => this.#waiter?.(undefined);
    call.on("end", end);
    call.on("error", end);
  }

  /** The next packet, or `undefined` at end of stream or after `timeoutMs`. */
  next(timeoutMs: number): Promise<Packet | undefined> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      this.#waiter = (p) => {
        clearTimeout(timer);
        resolve(p);
      };
    });
  }

  /** Deliver every further packet (and those queued) to `handler`. */
  setHandler(handler: (p: Packet) => void): void {
    this.#handler = handler;
    for (const p of this.#queue.splice(0)) handler(p);
  }
}

/** Find or create the agent record and publish an embedded agent's connection. */
async function resolveAgent(
  ctx: ControlContext,
  identity: Identity,
  published: PublishedConnection | undefined,
): Promise<Agent> {
  let agent: Agent;
  if (identity.kind === "agent") {
    agent = identity.agent;
  } else {
    if (!published) {
      throw new HoopError(
        "invalid_argument",
        'The organization key only serves embedded agents: use "hoop run"',
      );
    }
    validateName("connection", published.name);
    const existing = await ctx.store.getAgentByName(published.name);
    if (existing && !existing.viaOrgKey) {
      throw new HoopError(
        "already_exists",
        `Cannot publish connection "${published.name}": the name belongs to agent "${existing.name}"`,
      );
    }
    agent = existing ?? await ctx.store.createAgent({
      id: crypto.randomUUID(),
      name: published.name,
      mode: "embedded",
      keyHash: null,
      viaOrgKey: true,
      createdAt: new Date().toISOString(),
    });
  }
  if (published) {
    if (identity.kind === "agent" && agent.mode !== "embedded") {
      throw new HoopError(
        "invalid_argument",
        `Agent "${agent.name}" has a standard key: "hoop run" needs the org key or a key with mode=embedded`,
      );
    }
    validateName("connection", published.name);
    const existing = await ctx.store.getConnectionByName(published.name);
    try {
      await ctx.store.upsertConnection({
        id: existing?.id ?? crypto.randomUUID(),
        name: published.name,
        type: published.type,
        agentId: agent.id,
        config: published.config,
        groups: existing?.groups ?? [],
        createdAt: existing?.createdAt ?? new Date().toISOString(),
      });
    } catch (err) {
      if (err instanceof StoreConflictError) {
        throw new HoopError(
          "already_exists",
          `Cannot publish connection "${published.name}": another agent serves a connection with that name`,
          { cause: err },
        );
      }
      throw err;
    }
  }
  return agent;
}

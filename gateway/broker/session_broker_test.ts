import assert from "node:assert/strict";
import { decodeBase64Url } from "../../proto/base64.ts";
import { DataSide, DataStatus, readStatus } from "../../proto/data_header.ts";
import { unavailable } from "../../proto/errors.ts";
import { Logger } from "../../proto/log.ts";
import type { Packet } from "../../proto/packet.ts";
import { type AgentLink, MemoryPresence } from "../presence.ts";
import { secretBoxFromKey } from "../secret_box.ts";
import { openStore } from "../store/open_store.ts";
import type { Agent, Connection, NewSession, Store, Token, User } from "../store/store.ts";
import type { LocalClient } from "./live_session.ts";
import { SessionBroker } from "./session_broker.ts";

const quiet = new Logger({}, { sink: { write: () => {} }, level: "error" });
const dec = new TextDecoder();

const at = "2026-01-01T00:00:00.000Z";
const agent = {
  id: "a1",
  name: "dev",
  mode: "standard",
  keyHash: null,
  viaOrgKey: false,
  createdAt: at,
} as Agent;
const user: User = {
  id: "u1",
  email: "ada@example.com",
  role: "user",
  groups: ["dba"],
  passwordHash: "unused",
  createdAt: at,
};
const connection: Connection = {
  id: "c1",
  name: "pg",
  type: "postgres",
  agentId: agent.id,
  config: {},
  groups: ["dba"],
  createdAt: at,
};
const token: Token = {
  id: "t1",
  userId: user.id,
  tokenHash: "ab".repeat(32),
  createdAt: at,
  expiresAt: "2999-01-01T00:00:00.000Z",
  revokedAt: null,
};

/**
 * A real SQLite store whose `createSession` is held until `release()`, or
 * fails as an unreachable PostgreSQL's does; the store itself stays real.
 * The agent's control stream is an in-process link that keeps what it is
 * sent (no gRPC here: tests/ covers the real agent).
 */
async function brokerWithHeldRow(dir: string, opts: { fail?: boolean } = {}) {
  const real = await openStore(undefined, {
    dataDir: dir,
    secretBox: await secretBoxFromKey(new Uint8Array(32)),
  });
  // The records the sessions are checked against once registered.
  await real.createAgent(agent);
  await real.createUser(user);
  await real.createConnection(connection);
  await real.createToken(token);
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  const events: string[] = [];
  const store = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === "createSession") {
        return async (s: NewSession) => {
          await held;
          if (opts.fail) {
            throw unavailable("The gateway's store is unreachable: connection refused");
          }
          const row = await target.createSession(s);
          events.push("row written");
          return row;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as Store;
  const sent: Packet[] = [];
  const link: AgentLink = {
    agentId: agent.id,
    agentName: agent.name,
    viaOrgKey: false,
    send: (p) => (sent.push(p), true),
    close: () => {},
  };
  const presence = new MemoryPresence();
  presence.add(link);
  const broker = new SessionBroker({ store, presence, log: quiet });
  return { broker, real, sent, events, release };
}

/** Two ends of a loopback TCP connection. */
async function tcpPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [near, far] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port }),
    listener.accept(),
  ]);
  listener.close();
  return [near, far];
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A local client on `conn` that notes a refusal: the broker must leave answering it to the caller. */
function watchedLocal(conn: Deno.Conn): { local: LocalClient; refused(): boolean } {
  let refused = false;
  return {
    local: {
      conn,
      refuse: () => {
        refused = true;
        return Promise.resolve();
      },
    },
    refused: () => refused,
  };
}

function ticketOf(p: Packet): Uint8Array {
  return decodeBase64Url(dec.decode(p.spec.ticket));
}

Deno.test("a session's row is written while SESSION_OPEN travels, and nothing is relayed before it", async () => {
  const dir = await Deno.makeTempDir();
  const { broker, real, sent, events, release } = await brokerWithHeldRow(dir);
  const [clientNear, clientFar] = await tcpPair();
  const [agentNear, agentFar] = await tcpPair();
  try {
    const opened = broker.open({
      user,
      connection,
      agent,
      verb: "connect",
      local: { conn: clientFar, prelude: new TextEncoder().encode("hi"), refuse: async () => {} },
    });
    // The agent hears of the session before its row is in the store.
    await waitFor(() => sent.length === 1, "SESSION_OPEN");
    assert.equal(sent[0].type, "SESSION_OPEN");
    assert.equal(events.length, 0);
    const sid = dec.decode(sent[0].spec.sid);
    assert.equal(await real.getSession(sid), undefined);

    // Both sides are there; still no byte may flow until the row is.
    const attached = broker.attach(agentFar, DataSide.AGENT, ticketOf(sent[0]));
    const early = new Uint8Array(1);
    const firstRead = agentNear.read(early).then((n) => {
      events.push("agent read");
      return n;
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(events.length, 0, "the agent got bytes before the session's row was written");

    release();
    assert.equal((await opened).sessionId, sid);
    assert.equal(await firstRead, 1);
    assert.deepEqual(events, ["row written", "agent read"]);
    assert.equal(early[0], DataStatus.OK);
    assert.ok(await real.getSession(sid), "the session's row");
    clientNear.close();
    agentNear.close();
    await attached;
    await waitFor(() => broker.liveCount === 0, "the session to end");
  } finally {
    for (const c of [clientNear, agentNear]) {
      try {
        c.close();
      } catch {
        // Closed by the test.
      }
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session whose row cannot be written is refused: open() throws the store's error, the agent hears why", async () => {
  const dir = await Deno.makeTempDir();
  const { broker, sent, release } = await brokerWithHeldRow(dir, { fail: true });
  const [clientNear, clientFar] = await tcpPair();
  const [agentNear, agentFar] = await tcpPair();
  const client = watchedLocal(clientFar);
  try {
    const opened = broker.open({ user, connection, agent, verb: "connect", local: client.local });
    opened.catch(() => {});
    await waitFor(() => sent.length === 1, "SESSION_OPEN");
    release();
    await assert.rejects(opened, /store is unreachable/);
    // The caller answers its own client with that error; the broker does not answer it twice.
    assert.equal(client.refused(), false);
    assert.equal(broker.liveCount, 0);

    // The agent, which already had SESSION_OPEN, is turned away with the reason.
    await broker.attach(agentFar, DataSide.AGENT, ticketOf(sent[0]));
    const status = await readStatus(agentNear, 5_000);
    assert.equal(status.ok, false);
    assert.match(!status.ok ? status.message : "", /could not be recorded: .*unreachable/);
  } finally {
    clientNear.close();
    clientFar.close();
    agentNear.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session whose access was withdrawn after the caller's check is refused once registered, with the reason", async (t) => {
  // The caller (API, listener) read the user, connection and token before the
  // change landed, and the change's review ran before the session was
  // registered: open() itself must catch it.
  const cases: [string, (real: Store) => Promise<unknown>, RegExp][] = [
    [
      "the user's groups changed",
      (real) => real.updateUserAccess(user.id, { role: "user", groups: ["web"] }),
      /access withdrawn: ada@example\.com may no longer use connection "pg"/,
    ],
    [
      "the connection's groups changed",
      (real) => real.updateConnectionGroups(connection.name, ["web"]),
      /access withdrawn: ada@example\.com may no longer use connection "pg"/,
    ],
    ["the token was revoked", (real) => real.revokeToken(token.id, at), /its token was revoked/],
  ];
  for (const [what, change, reason] of cases) {
    await t.step(what, async () => {
      const dir = await Deno.makeTempDir();
      const { broker, real, sent, release } = await brokerWithHeldRow(dir);
      const [clientNear, clientFar] = await tcpPair();
      const [agentNear, agentFar] = await tcpPair();
      const client = watchedLocal(clientFar);
      try {
        await change(real);
        release();
        const opened = broker.open({
          user,
          token,
          connection,
          agent,
          verb: "connect",
          local: client.local,
        });
        await assert.rejects(opened, (err: Error & { code?: string }) => {
          assert.equal(err.code, "permission_denied");
          assert.match(err.message, /^Cannot open a session on connection "pg": /);
          assert.match(err.message, reason);
          return true;
        });
        assert.equal(client.refused(), false, "the caller answers its client, not the broker");
        assert.equal(broker.liveCount, 0);

        // The agent, which already had SESSION_OPEN, is turned away; no byte is relayed.
        await broker.attach(agentFar, DataSide.AGENT, ticketOf(sent[0]));
        const status = await readStatus(agentNear, 5_000);
        assert.equal(status.ok, false);
        assert.match(!status.ok ? status.message : "", reason);

        // The record shows the refused session and why.
        const sid = dec.decode(sent[0].spec.sid);
        let row = await real.getSession(sid);
        for (const deadline = Date.now() + 5_000; row?.status !== "error";) {
          if (Date.now() > deadline) throw new Error(`session row still ${row?.status}`);
          await new Promise((r) => setTimeout(r, 5));
          row = await real.getSession(sid);
        }
        assert.match(row.error ?? "", reason);
      } finally {
        for (const c of [clientNear, clientFar, agentNear]) {
          try {
            c.close();
          } catch {
            // Closed by the broker.
          }
        }
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

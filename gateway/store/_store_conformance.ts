/**
 * The store's behaviour, written once: every backend's test calls
 * {@linkcode storeConformance} with a factory, and the same steps run against
 * it. A final step checks that every {@linkcode Store} method was exercised.
 *
 * @module
 */

import assert from "node:assert/strict";
import { POSTGRES_MIGRATIONS } from "./postgres_migrations.ts";
import { SQLITE_MIGRATIONS } from "./sqlite_migrations.ts";
import {
  type Agent,
  type Connection,
  type NewSession,
  type Store,
  StoreConflictError,
  StoreNotFoundError,
  type Token,
  type User,
} from "./store.ts";

/** A freshly opened, empty store plus the hooks the suite needs around it. */
export interface StoreUnderTest {
  store: Store;
  /**
   * Everything the backend wrote, as text (file bytes, or every row of every
   * table): what a disk image or a backup would show. Used to check that
   * secrets are sealed at rest.
   */
  rawDump(): Promise<string>;
  /** Open the same database again (called after `store.close()`). */
  reopen(): Promise<Store>;
  /** Remove what the factory created (files, schemas). */
  cleanup?(): Promise<void>;
}

/** Options of {@linkcode storeConformance}. */
export interface StoreConformanceOptions {
  /** Ignore the whole suite, with this reason printed. */
  ignore?: string;
  /** Run after all steps, pass or fail: stop what the factory started lazily. */
  teardown?: () => Promise<void>;
}

/** Every method of the Store interface; the coverage step keeps it honest. */
const STORE_METHODS = [
  "schemaVersion",
  "close",
  "createAgent",
  "getAgentByName",
  "getAgentById",
  "listAgents",
  "deleteAgent",
  "updateAgentPresence",
  "markAllAgentsOffline",
  "getOrgKey",
  "createOrgKey",
  "deleteOrgKey",
  "createConnection",
  "upsertConnection",
  "updateConnectionGroups",
  "getConnectionByName",
  "listConnections",
  "deleteConnection",
  "createUser",
  "createFirstUser",
  "getUserByEmail",
  "getUserById",
  "listUsers",
  "countUsers",
  "deleteUser",
  "updateUserAccess",
  "createDirectoryUser",
  "getUserByIdentity",
  "putSsoGrant",
  "listSsoGrantsDue",
  "pruneSsoGrants",
  "createToken",
  "getTokenByHash",
  "revokeToken",
  "createSession",
  "finishSession",
  "recordSessionProgress",
  "getSession",
  "listSessions",
  "appendSessionEvents",
  "listSessionEvents",
  "closeDanglingSessions",
] as const;

const T0 = Date.parse("2025-01-02T03:04:05.000Z");
/** A UTC timestamp `sec` seconds after a fixed origin. */
function at(sec: number): string {
  return new Date(T0 + sec * 1000).toISOString();
}

function newAgent(name: string, extra: Partial<Agent> = {}) {
  return {
    id: crypto.randomUUID(),
    name,
    mode: "standard" as const,
    keyHash: "ab".repeat(32),
    viaOrgKey: false,
    createdAt: at(0),
    ...extra,
  };
}

function newConnection(name: string, agentId: string, extra: Partial<Connection> = {}): Connection {
  return {
    id: crypto.randomUUID(),
    name,
    type: "postgres",
    agentId,
    config: { uri: `postgres://app:pw-${name}@db.internal:5432/app` },
    groups: ["dev", "ops"],
    createdAt: at(1),
    ...extra,
  };
}

function newUser(email: string, extra: Partial<User> = {}): User {
  return {
    id: crypto.randomUUID(),
    email,
    role: "user",
    groups: ["dev"],
    passwordHash: "pbkdf2-sha256$210000$c2FsdA==$aGFzaA==",
    createdAt: at(2),
    ...extra,
  };
}

function newSession(id: string, sec: number, extra: Partial<NewSession> = {}): NewSession {
  return {
    id,
    userId: "u1",
    userEmail: "Ann@example.com",
    connectionName: "pg",
    connectionType: "postgres",
    agentName: "dev",
    verb: "connect",
    startedAt: at(sec),
    ...extra,
  };
}

/** Register one `Deno.test` named `name` with a step per store behaviour. */
export function storeConformance(
  name: string,
  open: () => Promise<StoreUnderTest>,
  opts: StoreConformanceOptions = {},
): void {
  const called = new Set<string>();
  const prototypeMethods = new Set<string>();

  /** Record which methods the steps call, for the coverage step. */
  function track(store: Store): Store {
    let proto = Object.getPrototypeOf(store);
    while (proto && proto !== Object.prototype) {
      for (const k of Object.getOwnPropertyNames(proto)) {
        if (k !== "constructor" && typeof store[k as keyof Store] === "function") {
          prototypeMethods.add(k);
        }
      }
      proto = Object.getPrototypeOf(proto);
    }
    return new Proxy(store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== "function") return v;
        called.add(String(prop));
        return v.bind(target);
      },
    });
  }

  async function withStore(fn: (s: Store, h: StoreUnderTest) => Promise<void>): Promise<void> {
    const h = await open();
    try {
      await fn(track(h.store), h);
    } finally {
      await h.store.close();
      await h.cleanup?.();
    }
  }

  Deno.test({
    name,
    ignore: opts.ignore !== undefined,
    async fn(t) {
      try {
        await steps(t);
      } finally {
        await opts.teardown?.();
      }
    },
  });

  async function steps(t: Deno.TestContext): Promise<void> {
    await t.step(
      "schemaVersion() is the latest migration, the same in both backends",
      () =>
        withStore(async (s, h) => {
          const sqliteLatest = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));
          const pgLatest = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version));
          assert.equal(sqliteLatest, pgLatest);
          assert.deepEqual(
            SQLITE_MIGRATIONS.map((m) => m.version),
            POSTGRES_MIGRATIONS.map((m) => m.version),
          );
          assert.equal(await s.schemaVersion(), sqliteLatest);
          assert.ok(s.kind === "sqlite" || s.kind === "postgres");

          // Reopening applies nothing twice and keeps the data.
          await s.createAgent(newAgent("persist"));
          await s.close();
          await s.close(); // a second close is harmless
          h.store = await h.reopen();
          const again = track(h.store);
          assert.equal(await again.schemaVersion(), sqliteLatest);
          assert.equal((await again.getAgentByName("persist"))?.name, "persist");
        }),
    );

    await t.step(
      "createAgent() stores an OFFLINE agent and rejects a taken name",
      () =>
        withStore(async (s) => {
          const input = newAgent("dev", { viaOrgKey: true, keyHash: null, mode: "embedded" });
          const a = await s.createAgent(input);
          assert.deepEqual(a, {
            ...input,
            status: "OFFLINE",
            version: null,
            hostname: null,
            platform: null,
            connectedAt: null,
            seenAt: null,
          });
          assert.deepEqual(await s.getAgentByName("dev"), a);
          assert.deepEqual(await s.getAgentById(a.id), a);
          await assert.rejects(s.createAgent(newAgent("dev")), StoreConflictError);
          assert.equal(await s.getAgentByName("nope"), undefined);
          assert.equal(await s.getAgentById(crypto.randomUUID()), undefined);
        }),
    );

    await t.step("listAgents() orders by name", () =>
      withStore(async (s) => {
        assert.deepEqual(await s.listAgents(), []);
        for (const n of ["web", "db-2", "db-10", "db-1"]) await s.createAgent(newAgent(n));
        assert.deepEqual((await s.listAgents()).map((a) => a.name), [
          "db-1",
          "db-10",
          "db-2",
          "web",
        ]);
      }));

    await t.step(
      "updateAgentPresence() sets given fields and keeps absent ones",
      () =>
        withStore(async (s) => {
          const a = await s.createAgent(newAgent("dev"));
          await s.updateAgentPresence(a.id, {
            status: "ONLINE",
            version: "1.2.3",
            hostname: "h1",
            platform: "linux/amd64",
            connectedAt: at(10),
            seenAt: at(10),
          });
          await s.updateAgentPresence(a.id, { status: "ONLINE", seenAt: at(20) });
          const got = await s.getAgentById(a.id);
          assert.equal(got?.status, "ONLINE");
          assert.equal(got?.version, "1.2.3");
          assert.equal(got?.hostname, "h1");
          assert.equal(got?.platform, "linux/amd64");
          assert.equal(got?.connectedAt, at(10));
          assert.equal(got?.seenAt, at(20));
          await assert.rejects(
            s.updateAgentPresence(crypto.randomUUID(), { status: "ONLINE" }),
            StoreNotFoundError,
          );
        }),
    );

    await t.step("markAllAgentsOffline() sets every agent OFFLINE", () =>
      withStore(async (s) => {
        const a = await s.createAgent(newAgent("a"));
        const b = await s.createAgent(newAgent("b"));
        await s.updateAgentPresence(a.id, { status: "ONLINE", seenAt: at(5) });
        await s.updateAgentPresence(b.id, { status: "ONLINE" });
        await s.markAllAgentsOffline();
        for (const x of await s.listAgents()) assert.equal(x.status, "OFFLINE");
        assert.equal((await s.getAgentById(a.id))?.seenAt, at(5));
      }));

    await t.step(
      "deleteAgent() removes the agent and only its connections",
      () =>
        withStore(async (s) => {
          const a = await s.createAgent(newAgent("a"));
          const b = await s.createAgent(newAgent("b"));
          await s.createConnection(newConnection("a-pg", a.id));
          await s.createConnection(newConnection("a-tcp", a.id));
          await s.createConnection(newConnection("b-pg", b.id));
          const deleted = await s.deleteAgent("a");
          assert.equal(deleted.id, a.id);
          assert.equal(await s.getAgentByName("a"), undefined);
          assert.deepEqual((await s.listConnections()).map((c) => c.name), ["b-pg"]);
          await assert.rejects(s.deleteAgent("a"), StoreNotFoundError);
          // The name is free again.
          await s.createAgent(newAgent("a"));
        }),
    );

    await t.step(
      "org key: get, create once, delete with the agents it registered",
      () =>
        withStore(async (s) => {
          assert.equal(await s.getOrgKey(), undefined);
          await assert.rejects(s.deleteOrgKey(), StoreNotFoundError);
          const key = {
            id: crypto.randomUUID(),
            key: "grpc://default:xagt-orgsecret@127.0.0.1:8010?mode=embedded",
            keyHash: "cd".repeat(32),
            createdAt: at(3),
          };
          assert.deepEqual(await s.createOrgKey(key), key);
          assert.deepEqual(await s.getOrgKey(), key);
          await assert.rejects(
            s.createOrgKey({ ...key, id: crypto.randomUUID() }),
            StoreConflictError,
          );
          const viaOrg = await s.createAgent(newAgent("emb", { viaOrgKey: true, keyHash: null }));
          const own = await s.createAgent(newAgent("own"));
          await s.createConnection(newConnection("emb-pg", viaOrg.id));
          await s.createConnection(newConnection("own-pg", own.id));
          assert.deepEqual(await s.deleteOrgKey(), key);
          assert.equal(await s.getOrgKey(), undefined);
          assert.deepEqual((await s.listAgents()).map((a) => a.name), ["own"]);
          assert.deepEqual((await s.listConnections()).map((c) => c.name), ["own-pg"]);
          await assert.rejects(s.deleteOrgKey(), StoreNotFoundError);
          await s.createOrgKey({ ...key, id: crypto.randomUUID() });
        }),
    );

    await t.step("connections: create, get, list by name, delete", () =>
      withStore(async (s) => {
        const a = await s.createAgent(newAgent("dev"));
        assert.deepEqual(await s.listConnections(), []);
        const tcp = newConnection("redis", a.id, {
          type: "tcp",
          config: { host: "127.0.0.1", port: "6379" },
          groups: [],
        });
        const pg = newConnection("pg", a.id);
        const cmd = newConnection("bash", a.id, {
          type: "command",
          config: { command: "bash -l" },
          groups: ["ops"],
        });
        for (const c of [tcp, pg, cmd]) assert.deepEqual(await s.createConnection(c), c);
        assert.deepEqual(await s.getConnectionByName("pg"), pg);
        assert.deepEqual(await s.listConnections(), [cmd, pg, tcp]);
        await assert.rejects(
          s.createConnection(newConnection("pg", a.id)),
          StoreConflictError,
        );
        assert.equal(await s.getConnectionByName("nope"), undefined);
        assert.deepEqual(await s.deleteConnection("pg"), pg);
        assert.equal(await s.getConnectionByName("pg"), undefined);
        await assert.rejects(s.deleteConnection("pg"), StoreNotFoundError);
      }));

    await t.step(
      "upsertConnection() adds, replaces for the same agent, refuses another's",
      () =>
        withStore(async (s) => {
          const a = await s.createAgent(newAgent("a"));
          const b = await s.createAgent(newAgent("b"));
          const first = newConnection("pg", a.id);
          assert.deepEqual(await s.upsertConnection(first), first);
          assert.deepEqual(await s.getConnectionByName("pg"), first);
          const second = newConnection("pg", a.id, {
            config: { uri: "postgres://app:REDACTED@db2:5432/app" },
            groups: ["x"],
            createdAt: at(9),
          });
          assert.deepEqual(await s.upsertConnection(second), second);
          assert.deepEqual(await s.getConnectionByName("pg"), second);
          assert.equal((await s.listConnections()).length, 1);
          await assert.rejects(s.upsertConnection(newConnection("pg", b.id)), StoreConflictError);
          assert.deepEqual(await s.getConnectionByName("pg"), second);
        }),
    );

    await t.step(
      "updateConnectionGroups() sets groups that a republish keeps",
      () =>
        withStore(async (s) => {
          const a = await s.createAgent(newAgent("a"));
          await s.upsertConnection(newConnection("pg", a.id, { groups: [] }));
          const updated = await s.updateConnectionGroups("pg", ["dba", "ops"]);
          assert.deepEqual(updated.groups, ["dba", "ops"]);
          assert.deepEqual((await s.getConnectionByName("pg"))?.groups, ["dba", "ops"]);
          await assert.rejects(s.updateConnectionGroups("nope", ["x"]), StoreNotFoundError);
        }),
    );

    await t.step(
      "users: create, case-insensitive email, list by email, count, delete",
      () =>
        withStore(async (s) => {
          assert.equal(await s.countUsers(), 0);
          assert.deepEqual(await s.listUsers(), []);
          const ann = newUser("Ann@Example.com", { role: "admin", groups: ["admin", "dev"] });
          const bob = newUser("bob@example.com", { groups: [] });
          assert.deepEqual(await s.createUser(bob), bob);
          assert.deepEqual(await s.createUser(ann), ann);
          assert.equal(await s.countUsers(), 2);
          assert.deepEqual(await s.getUserByEmail("ann@example.com"), ann);
          assert.deepEqual(await s.getUserByEmail("ANN@EXAMPLE.COM"), ann);
          assert.deepEqual(await s.getUserById(bob.id), bob);
          assert.equal(await s.getUserByEmail("carol@example.com"), undefined);
          assert.equal(await s.getUserById(crypto.randomUUID()), undefined);
          await assert.rejects(s.createUser(newUser("ann@example.COM")), StoreConflictError);
          assert.deepEqual((await s.listUsers()).map((u) => u.email), [
            "Ann@Example.com",
            "bob@example.com",
          ]);
          // A directory login changes role and groups, nothing else.
          const promoted = await s.updateUserAccess(ann.id, { role: "admin", groups: ["dba"] });
          assert.deepEqual(promoted, { ...ann, role: "admin", groups: ["dba"] });
          assert.deepEqual(await s.getUserById(ann.id), promoted);
          await assert.rejects(
            s.updateUserAccess(crypto.randomUUID(), { role: "user", groups: [] }),
            StoreNotFoundError,
          );
          // A directory user is found by (issuer, subject), the same email elsewhere is a conflict.
          const dirUser = {
            ...ann,
            id: crypto.randomUUID(),
            email: "dee@example.com",
          };
          const idp = { issuer: "https://idp.example.com", subject: "dee-1" };
          await s.createDirectoryUser(dirUser, idp);
          assert.deepEqual(await s.getUserByIdentity(idp), dirUser);
          assert.equal(await s.getUserByIdentity({ ...idp, issuer: "https://other" }), undefined);
          await assert.rejects(
            s.createDirectoryUser({ ...dirUser, id: crypto.randomUUID() }, {
              ...idp,
              subject: "x",
            }),
            StoreConflictError,
          );
          await assert.rejects(
            s.createDirectoryUser({ ...dirUser, id: crypto.randomUUID(), email: "e@x.com" }, idp),
            StoreConflictError,
          );
          assert.equal(await s.getUserByEmail("e@x.com"), undefined, "nothing half-created");
          await s.deleteUser("dee@example.com");
          assert.equal(await s.getUserByIdentity(idp), undefined);
          assert.deepEqual(await s.deleteUser("ANN@example.com"), promoted);
          assert.equal(await s.countUsers(), 1);
          await assert.rejects(s.deleteUser("ann@example.com"), StoreNotFoundError);
        }),
    );

    await t.step(
      "createFirstUser() lets exactly one of 10 concurrent callers in (issue 10)",
      () =>
        withStore(async (s) => {
          // Busy every pooled connection first, so the racers overlap rather than queue.
          await Promise.all(Array.from({ length: 10 }, () => s.countUsers()));
          const racers = Array.from({ length: 10 }, (_, i) => newUser(`admin${i}@example.com`));
          const results = await Promise.allSettled(racers.map((u) => s.createFirstUser(u)));
          const won = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
          assert.equal(won.length, 1, "exactly one first user");
          for (const r of results) {
            if (r.status === "rejected") {
              assert.ok(r.reason instanceof StoreConflictError, r.reason);
            }
          }
          assert.equal(await s.countUsers(), 1);
          assert.deepEqual(await s.listUsers(), won);
          await assert.rejects(s.createFirstUser(newUser("late@example.com")), StoreConflictError);
          assert.equal(await s.countUsers(), 1);
        }),
    );

    await t.step(
      "tokens: create, find by hash, revoke; deleteUser removes them",
      () =>
        withStore(async (s) => {
          const u = await s.createUser(newUser("ann@example.com"));
          const other = await s.createUser(newUser("bob@example.com"));
          const tok = {
            id: crypto.randomUUID(),
            userId: u.id,
            tokenHash: "ef".repeat(32),
            createdAt: at(1),
            expiresAt: at(86400),
            revokedAt: null,
          };
          const keep = { ...tok, id: crypto.randomUUID(), userId: other.id, tokenHash: "01" };
          assert.deepEqual(await s.createToken(tok), tok);
          await s.createToken(keep);
          assert.deepEqual(await s.getTokenByHash(tok.tokenHash), tok);
          assert.equal(await s.getTokenByHash("00"), undefined);
          await assert.rejects(
            s.createToken({ ...tok, id: crypto.randomUUID() }),
            StoreConflictError,
          );
          await s.revokeToken(tok.id, at(50));
          assert.equal((await s.getTokenByHash(tok.tokenHash))?.revokedAt, at(50));
          // Revoking again keeps the first revocation time.
          await s.revokeToken(tok.id, at(60));
          assert.equal((await s.getTokenByHash(tok.tokenHash))?.revokedAt, at(50));
          await assert.rejects(s.revokeToken(crypto.randomUUID(), at(1)), StoreNotFoundError);
          await s.deleteUser("ann@example.com");
          assert.equal(await s.getTokenByHash(tok.tokenHash), undefined);
          assert.deepEqual(await s.getTokenByHash("01"), keep);
        }),
    );

    await t.step(
      "sso grants: sealed, due by last check while their token lives, pruned, gone with the user",
      () =>
        withStore(async (s) => {
          const u = await s.createUser(newUser("ann@example.com"));
          const token = (id: string, extra: Partial<Token> = {}) => ({
            id,
            userId: u.id,
            tokenHash: id.padEnd(64, "0"),
            createdAt: at(1),
            expiresAt: at(1000),
            revokedAt: null,
            ...extra,
          });
          await s.createToken(token("a"));
          await s.createToken(token("b"));
          await s.createToken(token("c", { expiresAt: at(5) }));
          await s.createToken(token("d", { revokedAt: at(2) }));
          const grant = (tokenId: string, checked: number) => ({
            tokenId,
            userId: u.id,
            refreshToken: `rt-${tokenId}`,
            checkedAt: at(checked),
          });
          for (const [id, checked] of [["a", 20], ["b", 10], ["c", 1], ["d", 1]] as const) {
            await s.putSsoGrant(grant(id, checked));
          }
          assert.deepEqual(await s.listSsoGrantsDue(at(20), at(10), 10), [
            grant("b", 10),
            grant("a", 20),
          ]);
          assert.deepEqual(await s.listSsoGrantsDue(at(20), at(10), 1), [grant("b", 10)]);
          // A check moves the grant back in the queue and can rotate the refresh token.
          await s.putSsoGrant({ ...grant("b", 30), refreshToken: "rt-b2" });
          assert.deepEqual(await s.listSsoGrantsDue(at(20), at(10), 10), [grant("a", 20)]);
          assert.equal(await s.pruneSsoGrants(at(10)), 2, "the expired and the revoked");
          assert.deepEqual(
            (await s.listSsoGrantsDue(at(40), at(10), 10)).map((g) => g.refreshToken),
            ["rt-a", "rt-b2"],
          );
          await s.deleteUser("ann@example.com");
          assert.deepEqual(await s.listSsoGrantsDue(at(40), at(0), 10), []);
        }),
    );

    await t.step(
      "sessions: create open, finish, get; absent and duplicate ids",
      () =>
        withStore(async (s) => {
          const ns = newSession("s1", 1, { verb: "exec", connectionType: "command" });
          const created = await s.createSession(ns);
          assert.deepEqual(created, {
            ...ns,
            status: "open",
            exitCode: null,
            bytesIn: 0,
            bytesOut: 0,
            truncated: false,
            error: null,
            endedAt: null,
          });
          assert.deepEqual(await s.getSession("s1"), created);
          await assert.rejects(s.createSession(ns), StoreConflictError);
          assert.equal(await s.getSession("nope"), undefined);
          const end = {
            status: "done" as const,
            exitCode: 3,
            bytesIn: 5_000_000_000, // past 32 bits
            bytesOut: 42,
            truncated: true,
            error: null,
            endedAt: at(9),
          };
          const finished = await s.finishSession("s1", end);
          assert.deepEqual(finished, { ...created, ...end });
          assert.deepEqual(await s.getSession("s1"), finished);
          await assert.rejects(s.finishSession("nope", end), StoreNotFoundError);
        }),
    );

    await t.step(
      "listSessions() is newest first, filtered, limited to 100 by default",
      () =>
        withStore(async (s) => {
          assert.deepEqual(await s.listSessions(), []);
          await s.createSession(newSession("old", 1));
          await s.createSession(newSession("new", 3, { userEmail: "bob@example.com" }));
          await s.createSession(newSession("mid", 2, { connectionName: "redis" }));
          assert.deepEqual((await s.listSessions()).map((x) => x.id), ["new", "mid", "old"]);
          assert.deepEqual(
            (await s.listSessions({ userEmail: "ann@example.com" })).map((x) => x.id),
            ["mid", "old"],
          );
          assert.deepEqual(
            (await s.listSessions({ connectionName: "pg" })).map((x) => x.id),
            ["new", "old"],
          );
          assert.deepEqual(
            (await s.listSessions({ userEmail: "Ann@example.com", connectionName: "pg" })).map(
              (x) => x.id,
            ),
            ["old"],
          );
          assert.deepEqual((await s.listSessions({ limit: 2 })).map((x) => x.id), ["new", "mid"]);
          for (let i = 0; i < 100; i++) {
            await s.createSession(newSession(`bulk-${i}`, 100 + i));
          }
          const page = await s.listSessions();
          assert.equal(page.length, 100);
          assert.equal(page[0].id, "bulk-99");
        }),
    );

    await t.step(
      "listSessions() filters by verb, status and a started_at range",
      () =>
        withStore(async (s) => {
          await s.createSession(newSession("c1", 1));
          await s.createSession(newSession("x2", 2, { verb: "exec", connectionType: "command" }));
          await s.createSession(
            newSession("k3", 3, { verb: "console", connectionType: "command" }),
          );
          await s.finishSession("x2", {
            status: "done",
            exitCode: 0,
            bytesIn: 0,
            bytesOut: 0,
            truncated: false,
            error: null,
            endedAt: at(4),
          });
          await s.finishSession("k3", {
            status: "error",
            exitCode: null,
            bytesIn: 0,
            bytesOut: 0,
            truncated: false,
            error: "cut",
            endedAt: at(5),
          });
          const ids = async (f: Parameters<typeof s.listSessions>[0]) =>
            (await s.listSessions(f)).map((x) => x.id);
          assert.deepEqual(await ids({ verb: "exec" }), ["x2"]);
          assert.deepEqual(await ids({ verb: "console" }), ["k3"]);
          assert.deepEqual(await ids({ status: "open" }), ["c1"]);
          assert.deepEqual(await ids({ status: "done" }), ["x2"]);
          assert.deepEqual(await ids({ status: "error" }), ["k3"]);
          assert.deepEqual(await ids({ since: at(2) }), ["k3", "x2"]);
          assert.deepEqual(await ids({ until: at(2) }), ["x2", "c1"]);
          assert.deepEqual(await ids({ since: at(2), until: at(2) }), ["x2"]);
          assert.deepEqual(await ids({ since: at(2), verb: "connect" }), []);
        }),
    );

    await t.step(
      "session events round-trip binary data in seq order, atomically",
      () =>
        withStore(async (s) => {
          await s.createSession(newSession("s1", 1));
          await s.createSession(newSession("s2", 2));
          const all = new Uint8Array(256).map((_, i) => i);
          const big = crypto.getRandomValues(new Uint8Array(65536));
          const batch1 = [
            { seq: 0, time: at(1), kind: "i" as const, data: all },
            { seq: 1, time: at(1), kind: "o" as const, data: new Uint8Array() },
            { seq: 3, time: at(2), kind: "sql" as const, data: new TextEncoder().encode("é;") },
          ];
          await s.appendSessionEvents("s1", batch1);
          await s.appendSessionEvents("s1", [
            { seq: 2, time: at(1), kind: "r", data: new TextEncoder().encode("80x24") },
            { seq: 4, time: at(3), kind: "e", data: big },
          ]);
          await s.appendSessionEvents("s2", [{ seq: 0, time: at(2), kind: "info", data: all }]);
          await s.appendSessionEvents("s1", []);
          const got = await s.listSessionEvents("s1");
          assert.deepEqual(got.map((e) => e.seq), [0, 1, 2, 3, 4]);
          assert.deepEqual(got[0], batch1[0]);
          assert.deepEqual(got[1], batch1[1]);
          assert.deepEqual(got[3], batch1[2]);
          assert.equal(got[2].kind, "r");
          assert.deepEqual(got[4].data, big);
          assert.equal(Object.getPrototypeOf(got[0].data), Uint8Array.prototype);
          assert.equal((await s.listSessionEvents("s2")).length, 1);
          assert.deepEqual(await s.listSessionEvents("nope"), []);

          await assert.rejects(
            s.appendSessionEvents("nope", [{ seq: 0, time: at(1), kind: "i", data: all }]),
            StoreNotFoundError,
          );
          // A batch with a duplicate seq fails whole: no event of it is kept.
          await assert.rejects(
            s.appendSessionEvents("s1", [
              { seq: 5, time: at(4), kind: "o", data: all },
              { seq: 0, time: at(4), kind: "o", data: all },
            ]),
            StoreConflictError,
          );
          assert.equal((await s.listSessionEvents("s1")).length, 5);

          // Many events in one call (past any per-statement batching).
          const many = Array.from({ length: 2500 }, (_, i) => ({
            seq: i,
            time: at(i),
            kind: "o" as const,
            data: new TextEncoder().encode(`line ${i}\n`),
          }));
          await s.appendSessionEvents("s2", many.slice(1));
          const back = await s.listSessionEvents("s2");
          assert.equal(back.length, 2500);
          assert.deepEqual(back[2499], many[2499]);
        }),
    );

    await t.step(
      "recordSessionProgress() saves an open session's bytes, which closing it keeps",
      () =>
        withStore(async (s) => {
          await s.createSession(newSession("run", 1));
          await s.recordSessionProgress("run", { bytesIn: 10, bytesOut: 20, truncated: false });
          await s.recordSessionProgress("run", { bytesIn: 15, bytesOut: 99, truncated: true });
          const x = await s.getSession("run");
          assert.equal(x?.bytesIn, 15);
          assert.equal(x?.bytesOut, 99);
          assert.equal(x?.truncated, true);
          assert.equal(await s.closeDanglingSessions(at(100), "gateway died"), 1);
          const closed = await s.getSession("run");
          assert.equal(closed?.status, "error");
          assert.equal(closed?.bytesOut, 99);
          // A closed session no longer moves; an unknown one is no error.
          await s.recordSessionProgress("run", { bytesIn: 1, bytesOut: 1, truncated: false });
          assert.equal((await s.getSession("run"))?.bytesOut, 99);
          await s.recordSessionProgress("nope", { bytesIn: 1, bytesOut: 1, truncated: false });
        }),
    );

    await t.step(
      "closeDanglingSessions() errors every open session and counts them",
      () =>
        withStore(async (s) => {
          await s.createSession(newSession("open1", 1));
          await s.createSession(newSession("open2", 2));
          await s.createSession(newSession("done", 3));
          const end = {
            status: "done" as const,
            exitCode: 0,
            bytesIn: 1,
            bytesOut: 2,
            truncated: false,
            error: null,
            endedAt: at(4),
          };
          await s.finishSession("done", end);
          assert.equal(await s.closeDanglingSessions(at(100), "gateway restarted"), 2);
          for (const id of ["open1", "open2"]) {
            const x = await s.getSession(id);
            assert.equal(x?.status, "error");
            assert.equal(x?.error, "gateway restarted");
            assert.equal(x?.endedAt, at(100));
          }
          assert.equal((await s.getSession("done"))?.status, "done");
          assert.equal((await s.getSession("done"))?.endedAt, at(4));
          assert.equal(await s.closeDanglingSessions(at(200), "again"), 0);
        }),
    );

    await t.step(
      "secrets are sealed at rest: org key and connection config",
      () =>
        withStore(async (s, h) => {
          const orgSecret = "xagt-ORGSECRET4f3c9a";
          const connSecret = "Pw-CONNSECRET-8d2e";
          await s.createOrgKey({
            id: crypto.randomUUID(),
            key: `grpc://default:${orgSecret}@127.0.0.1:8010`,
            keyHash: "cd".repeat(32),
            createdAt: at(1),
          });
          const a = await s.createAgent(newAgent("dev"));
          await s.createConnection(
            newConnection("pg-visible-name", a.id, {
              config: { uri: `postgres://app:${connSecret}@db:5432/app` },
            }),
          );
          await s.upsertConnection(
            newConnection("pg-upserted", a.id, { config: { password: connSecret } }),
          );
          const dump = await h.rawDump();
          // The dump is real: non-secret columns are there in plain text.
          assert.ok(dump.includes("pg-visible-name"), "the raw dump shows stored rows");
          assert.ok(!dump.includes(orgSecret), "org key stored in plain text");
          assert.ok(!dump.includes(connSecret), "connection secret stored in plain text");
          assert.ok(!dump.includes("db:5432"), "connection config stored in plain text");
          assert.equal((await s.getOrgKey())?.key, `grpc://default:${orgSecret}@127.0.0.1:8010`);
          assert.equal(
            (await s.getConnectionByName("pg-visible-name"))?.config.uri,
            `postgres://app:${connSecret}@db:5432/app`,
          );
        }),
    );

    await t.step("every Store method has a conformance case", () => {
      assert.deepEqual(
        [...prototypeMethods].filter((m) => !(STORE_METHODS as readonly string[]).includes(m)),
        [],
        "the backend has methods this suite does not know about",
      );
      assert.deepEqual(STORE_METHODS.filter((m) => !called.has(m)), [], "untested methods");
    });
  }
}

/**
 * The data port's warm parking lot, in process: the real data server and
 * `WarmParking`, the agent's real `WarmPool` and `dialData`, and a stand-in
 * broker that accepts any ticket (what it does with a paired connection is
 * the broker's own tests' business).
 */
import assert from "node:assert/strict";
import { dialData } from "../agent/data_dial.ts";
import { WarmPool } from "../proto/warm_pool.ts";
import type { SessionBroker } from "../gateway/broker/mod.ts";
import { startDataServer } from "../gateway/data_server.ts";
import { MAX_WARM_PER_KEY, WarmParking } from "../gateway/warm_parking.ts";
import { encodeBase64Url } from "../proto/base64.ts";
import { closeQuietly } from "../proto/bytes.ts";
import { DataRefusedError, type DataTarget, parkWarm, presentTicket } from "../proto/data_dial.ts";
import { DataSide, DataStatus, writeStatus } from "../proto/data_header.ts";
import { generateTicket } from "../proto/keys.ts";
import { Logger } from "../proto/log.ts";
import { waitFor } from "./_harness.ts";

function setUp() {
  const attached: { side: number }[] = [];
  const broker = {
    async attach(conn: Deno.Conn, side: number) {
      attached.push({ side });
      await writeStatus(conn, DataStatus.OK);
    },
  } as unknown as SessionBroker;
  const parking = new WarmParking();
  const log = new Logger({}, { sink: { write: () => {} }, level: "error" });
  const server = startDataServer({ hostname: "127.0.0.1", port: 0 }, { broker, log, parking });
  const target: DataTarget = { addr: `127.0.0.1:${server.addr.port}`, tls: false };
  return { attached, parking, server, target, log };
}

const ticket = () => encodeBase64Url(generateTicket());

Deno.test("a parked connection later presents its session ticket (stand-in broker)", async () => {
  const { attached, parking, server, target } = setUp();
  try {
    const key = parking.issue("agent-1", DataSide.AGENT);
    const conn = await parkWarm(target, key, { waitMs: 5_000 });
    await waitFor(() => parking.parked === 1, { message: "parked" });
    await presentTicket(conn, target, DataSide.AGENT, ticket(), { waitMs: 5_000 });
    assert.deepEqual(attached, [{ side: DataSide.AGENT }]);
    assert.equal(parking.parked, 0);
    closeQuietly(conn);
  } finally {
    server.close();
  }
});

Deno.test("a connection parked for agents cannot present a client ticket", async () => {
  const { attached, parking, server, target } = setUp();
  try {
    const conn = await parkWarm(target, parking.issue("agent-1", DataSide.AGENT), {
      waitMs: 5_000,
    });
    await assert.rejects(
      presentTicket(conn, target, DataSide.CLIENT, ticket(), { waitMs: 5_000 }),
      (err) => err instanceof DataRefusedError && /parked for side 2, not 1/.test(err.reason),
    );
    assert.equal(attached.length, 0);
  } finally {
    server.close();
  }
});

Deno.test(`one key parks at most MAX_WARM_PER_KEY (${MAX_WARM_PER_KEY}) connections; revoking closes them`, async () => {
  const { parking, server, target } = setUp();
  const conns: Deno.Conn[] = [];
  try {
    const key = parking.issue("agent-1", DataSide.AGENT);
    for (let i = 0; i < MAX_WARM_PER_KEY; i++) {
      conns.push(await parkWarm(target, key, { waitMs: 5_000 }));
    }
    await assert.rejects(
      parkWarm(target, key, { waitMs: 5_000 }),
      (err) => err instanceof DataRefusedError && /at most 8/.test(err.reason),
    );
    parking.revoke(key);
    for (const c of conns) {
      // The gateway closed it: the read ends.
      assert.equal(await c.read(new Uint8Array(1)).catch(() => null), null);
    }
    assert.equal(parking.parked, 0);
    await assert.rejects(
      parkWarm(target, key, { waitMs: 5_000 }),
      (err) => err instanceof DataRefusedError && /unknown or revoked warm key/.test(err.reason),
    );
  } finally {
    for (const c of conns) closeQuietly(c);
    server.close();
  }
});

Deno.test("an agent whose parked connection died dials afresh with the same ticket", async () => {
  const { attached, parking, server, target, log } = setUp();
  const key = parking.issue("agent-1", DataSide.AGENT);
  const pool = new WarmPool(target, key, log);
  try {
    assert.equal(pool.take(), undefined, "no demand yet, nothing parked");
    await waitFor(() => pool.size === 1 && parking.parked === 1, { message: "pool filled" });
    // The gateway drops what is parked (as at its idle limit or a restart).
    parking.revoke(key);
    await waitFor(() => parking.parked === 0, { message: "parked connection closed" });
    const conn = await dialData(target, ticket(), pool);
    assert.deepEqual(attached, [{ side: DataSide.AGENT }]);
    closeQuietly(conn);
  } finally {
    pool.close();
    server.close();
  }
});

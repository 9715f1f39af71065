/**
 * caching_sha2_password against the agent's client side (`openMysql` and
 * `loginMysql`), with a protocol-level fake MySQL 8 server written here: no
 * MySQL 8 exists on this machine (MariaDB has no caching_sha2_password). The
 * fake checks the scramble the way MySQL 8 does, and for the full
 * authentication decrypts the RSA-encrypted password with its private key.
 */
import assert from "node:assert/strict";
import { constants, createHash, generateKeyPairSync, privateDecrypt } from "node:crypto";
import { loginMysql, openMysql } from "../agent/mysql/mod.ts";
import {
  Capability,
  encodeErr,
  encodeGreeting,
  encodeOk,
  encodePacket,
  PacketReader,
  parseHandshakeResponse,
} from "../proto/mysql/mod.ts";
import { parseMysqlUri } from "../proto/mysql_uri.ts";

const PASSWORD = "sha2-Secret-pw";
const SCRAMBLE = new Uint8Array(20).map((_, i) => 0x21 + i);
const enc = new TextEncoder();
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** What MySQL 8 checks on the fast path: the client's scramble undone gives SHA256(pw). */
function fastPathMatches(answer: Uint8Array): boolean {
  const p1 = sha256(enc.encode(PASSWORD));
  const mix = sha256(sha256(p1), SCRAMBLE);
  return answer.length === 32 && answer.every((b, i) => (b ^ mix[i]) === p1[i]);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/**
 * Serve one login. `cached`: the server has the user's hash cached (fast
 * path); otherwise it asks for the full authentication without TLS, so the
 * client must request the RSA key and send the password encrypted with it.
 */
function fakeServer(cached: boolean) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  const done = (async () => {
    const conn = await listener.accept();
    try {
      const r = new PacketReader(conn);
      await writeAll(
        conn,
        encodePacket(
          0,
          encodeGreeting({
            protocol: 10,
            serverVersion: "8.4.0-fake",
            connectionId: 77,
            scramble: SCRAMBLE,
            capabilities: 0xffffffff & ~(Capability.SSL | Capability.COMPRESS),
            mariadbCapabilities: 0,
            charset: 255,
            status: 2,
            authPlugin: "caching_sha2_password",
          }),
        ),
      );
      const login = (await r.next(1 << 16))!;
      const resp = parseHandshakeResponse(login.payload);
      seen.push(`user=${resp.user} plugin=${resp.authPlugin}`);
      let seq = login.lastSeq + 1;
      const send = async (body: Uint8Array) => {
        await writeAll(conn, encodePacket(seq, body));
        seq += 1;
      };
      if (cached) {
        if (!fastPathMatches(resp.authResponse)) {
          await send(encodeErr({ code: 1045, sqlstate: "28000", message: "Access denied" }));
          return;
        }
        await send(Uint8Array.of(0x01, 0x03));
        await send(encodeOk());
        seen.push("fast path ok");
        return;
      }
      await send(Uint8Array.of(0x01, 0x04));
      const ask = (await r.next(1 << 16))!;
      assert.deepEqual([...ask.payload], [0x02], "the client did not ask for the public key");
      seq = ask.lastSeq + 1;
      const pem = publicKey.export({ type: "spki", format: "pem" }) as string;
      await send(new Uint8Array([0x01, ...enc.encode(pem)]));
      const sealed = (await r.next(1 << 16))!;
      const clear = new Uint8Array(privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING },
        sealed.payload,
      ));
      const password = new TextDecoder().decode(
        clear.map((b, i) => b ^ SCRAMBLE[i % SCRAMBLE.length]).subarray(0, clear.length - 1),
      );
      seq = sealed.lastSeq + 1;
      if (password !== PASSWORD) {
        await send(encodeErr({ code: 1045, sqlstate: "28000", message: "Access denied" }));
        return;
      }
      await send(encodeOk());
      seen.push("full auth ok");
    } finally {
      conn.close();
      listener.close();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return { port, seen, done };
}

async function login(port: number, password: string) {
  const cfg = parseMysqlUri(
    `mysql://app:${encodeURIComponent(password)}@127.0.0.1:${port}/app?ssl-mode=DISABLED`,
  );
  const server = await openMysql(cfg, AbortSignal.timeout(20_000));
  try {
    assert.equal(server.greeting.connectionId, 77);
    return await loginMysql(server, cfg, {
      capabilities: 0xffffffff,
      mariadbCapabilities: 0,
      charset: 45,
      maxPacket: 1 << 24,
    });
  } finally {
    server.conn.close();
  }
}

Deno.test("caching_sha2_password with a fake MySQL 8 server: fast path, full auth with RSA, refusal", async (t) => {
  await t.step("fast path: the scramble matches, then OK", async () => {
    const fake = fakeServer(true);
    const ok = await login(fake.port, PASSWORD);
    await fake.done;
    assert.equal(ok[0], 0x00);
    assert.deepEqual(fake.seen, ["user=app plugin=caching_sha2_password", "fast path ok"]);
  });
  await t.step("full authentication without TLS: the password RSA-encrypted", async () => {
    const fake = fakeServer(false);
    const ok = await login(fake.port, PASSWORD);
    await fake.done;
    assert.equal(ok[0], 0x00);
    assert.ok(fake.seen.includes("full auth ok"), fake.seen.join(", "));
  });
  await t.step("a wrong password is refused with the server's code", async () => {
    const fake = fakeServer(true);
    await assert.rejects(login(fake.port, "wrong"), (err: Error & { errno?: number }) => {
      assert.equal(err.errno, 1045);
      assert.match(err.message, /Access denied/);
      return true;
    });
    await fake.done;
  });
});

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
import { NodeSocketConn } from "../proto/node_socket_conn.ts";
import { makeTestCerts } from "./_tls.ts";
import net from "node:net";
import tls from "node:tls";

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

async function writeAll(conn: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
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

/**
 * A fake that offers TLS and, after the client's `SSLRequest` and the TLS
 * handshake, asks for the full authentication: over TLS the client must send
 * the password in clear (NUL-terminated), as MySQL 8 expects.
 */
function fakeTlsServer(certFile: string, keyFile: string) {
  const seen: string[] = [];
  const server = net.createServer();
  const listening = new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const done = new Promise<void>((resolve, reject) => {
    server.once("connection", (sock) => {
      server.close();
      serve(sock).then(resolve, reject).finally(() => sock.destroy());
    });
  });
  async function serve(sock: net.Socket) {
    const plain = new NodeSocketConn(sock);
    await writeAll(
      plain,
      encodePacket(
        0,
        encodeGreeting({
          protocol: 10,
          serverVersion: "8.4.0-fake",
          connectionId: 77,
          scramble: SCRAMBLE,
          capabilities: 0xffffffff & ~Capability.COMPRESS,
          mariadbCapabilities: 0,
          charset: 255,
          status: 2,
          authPlugin: "caching_sha2_password",
        }),
      ),
    );
    const plainReader = new PacketReader(plain);
    const ssl = (await plainReader.next(1 << 16))!;
    assert.ok(parseHandshakeResponse(ssl.payload).sslRequest, "no SSLRequest first");
    // The ClientHello may already be read: hand it back to the socket for TLS.
    const early = new Uint8Array([...plainReader.leftover(), ...plain.detach()]);
    if (early.length) sock.unshift(early);
    const secure = new tls.TLSSocket(sock, {
      isServer: true,
      cert: await Deno.readTextFile(certFile),
      key: await Deno.readTextFile(keyFile),
    });
    await new Promise<void>((r, j) => {
      secure.once("secure", r);
      secure.once("error", j);
    });
    seen.push("tls");
    const conn = new NodeSocketConn(secure);
    const r = new PacketReader(conn);
    const login = (await r.next(1 << 16))!;
    await writeAll(conn, encodePacket(login.lastSeq + 1, Uint8Array.of(0x01, 0x04)));
    const clear = (await r.next(1 << 16))!;
    const ok = new TextDecoder().decode(clear.payload) === PASSWORD + "\0";
    seen.push(ok ? "clear password over tls" : "wrong password");
    await writeAll(
      conn,
      encodePacket(
        clear.lastSeq + 1,
        ok ? encodeOk() : encodeErr({ code: 1045, sqlstate: "28000", message: "Access denied" }),
      ),
    );
  }
  return {
    seen,
    done,
    port: listening.then(() => (server.address() as net.AddressInfo).port),
  };
}

async function login(port: number, password: string, query = "ssl-mode=DISABLED") {
  const cfg = parseMysqlUri(
    `mysql://app:${encodeURIComponent(password)}@127.0.0.1:${port}/app?${query}`,
  );
  const server = await openMysql(cfg, AbortSignal.timeout(20_000));
  let conn = server.conn;
  try {
    assert.equal(server.greeting.connectionId, 77);
    const done = await loginMysql(server, cfg, {
      capabilities: 0xffffffff,
      mariadbCapabilities: 0,
      charset: 45,
      maxPacket: 1 << 24,
    });
    conn = done.conn;
    return done.ok;
  } finally {
    try {
      conn.close();
    } catch {
      // The plain socket was taken over by TLS.
    }
  }
}

Deno.test("caching_sha2_password with a fake MySQL 8 server: fast path, full auth with RSA or over TLS, refusal", async (t) => {
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
  await t.step(
    "full authentication over TLS (ssl-mode=VERIFY_CA): the password in clear",
    async () => {
      await using certs = await makeTestCerts();
      const fake = fakeTlsServer(certs.certFile, certs.keyFile);
      const ok = await login(
        await fake.port,
        PASSWORD,
        `ssl-mode=VERIFY_CA&ssl-ca=${encodeURIComponent(certs.caCertFile)}`,
      );
      await fake.done;
      assert.equal(ok[0], 0x00);
      assert.deepEqual(fake.seen, ["tls", "clear password over tls"]);
    },
  );
});

import assert from "node:assert/strict";
import tls from "node:tls";
import { readFull, writeAll } from "../../proto/bytes.ts";
import { NodeSocketConn } from "../../proto/node_socket_conn.ts";
import { encodeSslRequest, encodeStartup, GSSENC_REQUEST_CODE } from "../../proto/pgwire/mod.ts";
import { makeTestCerts } from "../../tests/_tls.ts";
import { negotiateListenerStartup } from "./listener_startup.ts";
import { ListenerTls, POSTGRES_ALPN } from "./listener_tls.ts";

/** A connected loopback pair: [accepted, dialed]. */
async function tcpPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dialed = Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  return [await listener.accept(), await dialed];
}

const startup = encodeStartup({ user: "u@example.com", database: "pg" });

Deno.test("negotiateListenerStartup() answers N without a certificate and reads the startup", async () => {
  const [server, client] = await tcpPair();
  const gss = new Uint8Array(8);
  new DataView(gss.buffer).setInt32(0, 8);
  new DataView(gss.buffer).setInt32(4, GSSENC_REQUEST_CODE);
  const talk = (async () => {
    await writeAll(client, encodeSslRequest());
    const a = await readFull(client, 1);
    await writeAll(client, gss);
    const b = await readFull(client, 1);
    await writeAll(client, startup);
    return new TextDecoder().decode(new Uint8Array([a![0], b![0]]));
  })();
  const got = await negotiateListenerStartup(server, undefined);
  assert.equal(await talk, "NN");
  assert.equal(got?.secure, false);
  assert.equal(got?.conn, server);
  assert.deepEqual(got?.packet, {
    kind: "startup",
    protocol: 196608,
    params: { user: "u@example.com", database: "pg" },
  });
  server.close();
  client.close();
});

Deno.test("negotiateListenerStartup() refuses direct TLS without a certificate", async () => {
  const [server, client] = await tcpPair();
  await writeAll(client, new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00]));
  await assert.rejects(negotiateListenerStartup(server, undefined), /has no certificate/);
  server.close();
  client.close();
});

Deno.test("negotiateListenerStartup() upgrades after SSLRequest and on direct TLS with ALPN", async (t) => {
  await using certs = await makeTestCerts();
  const listenerTls = new ListenerTls({
    cert: await Deno.readTextFile(certs.certFile),
    key: await Deno.readTextFile(certs.keyFile),
  });

  await t.step("SSLRequest: S, then TLS; the peer address is kept", async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const raw = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const server = await accepted;
    const client = (async () => {
      await writeAll(raw, encodeSslRequest());
      assert.equal(new TextDecoder().decode((await readFull(raw, 1))!), "S");
      // The client side of the upgrade is what Deno's startTls can do.
      const secured = await Deno.startTls(raw, { hostname: "localhost", caCerts: [certs.caCert] });
      await writeAll(secured, startup);
      return secured;
    })();
    const got = await negotiateListenerStartup(server, listenerTls);
    assert.equal(got?.secure, true);
    assert.equal(got?.packet.kind, "startup");
    assert.equal((got!.conn.remoteAddr as Deno.NetAddr).port, (raw.localAddr as Deno.NetAddr).port);
    await writeAll(got!.conn, new TextEncoder().encode("R"));
    const secured = await client;
    assert.equal(new TextDecoder().decode((await readFull(secured, 1))!), "R");
    secured.close();
    got!.conn.close();
  });

  await t.step(
    "direct TLS: ALPN postgresql is required (another protocol, or none, is refused)",
    async () => {
      using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      for (const alpn of [[POSTGRES_ALPN], ["http/1.1"], []]) {
        const accepted = listener.accept();
        const sock = tls.connect({
          host: "127.0.0.1",
          port: listener.addr.port,
          ca: certs.caCert,
          servername: "localhost",
          ALPNProtocols: alpn,
        });
        sock.on("error", () => {});
        const client = new NodeSocketConn(sock);
        sock.once("secureConnect", () => void writeAll(client, startup).catch(() => {}));
        const server = await accepted;
        if (alpn[0] === POSTGRES_ALPN) {
          const got = await negotiateListenerStartup(server, listenerTls);
          assert.equal(got?.secure, true);
          assert.equal(got?.packet.kind, "startup");
          got!.conn.close();
        } else {
          await assert.rejects(negotiateListenerStartup(server, listenerTls), /ALPN|TLS/);
        }
        client.close();
      }
    },
  );
});

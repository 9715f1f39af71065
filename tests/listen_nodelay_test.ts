/**
 * proto/listen.ts: connections accepted by a TLS listener it opened have
 * TCP_NODELAY, read back from the accepted socket with getsockopt. A plain
 * `Deno.listenTls` listener is the control: its connections do not, which
 * is the ~40 ms delayed-ACK wait the module removes.
 */
import assert from "node:assert/strict";
import { listenNoDelay } from "../proto/listen.ts";
import { makeTestCerts } from "./_tls.ts";

const libc = Deno.build.os === "linux"
  ? Deno.dlopen("libc.so.6", {
    getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  }).symbols
  : undefined;

/** TCP_NODELAY of this process's socket whose peer is 127.0.0.1:`peerPort`. */
function noDelayOfSocketWithPeer(peerPort: number): boolean {
  if (!libc) throw new Error("needs Linux");
  const addr = new Uint8Array(128);
  const len = new Uint32Array(1);
  const value = new Int32Array(1);
  const valueLen = new Uint32Array([4]);
  for (let fd = 3; fd < 4096; fd++) {
    len[0] = addr.length;
    if (libc.getpeername(fd, addr, new Uint8Array(len.buffer)) !== 0) continue;
    if (((addr[2] << 8) | addr[3]) !== peerPort) continue;
    valueLen[0] = 4;
    const rc = libc.getsockopt(
      fd,
      6, // IPPROTO_TCP
      1, // TCP_NODELAY
      new Uint8Array(value.buffer),
      new Uint8Array(valueLen.buffer),
    );
    assert.equal(rc, 0, "getsockopt(TCP_NODELAY) failed");
    return value[0] !== 0;
  }
  throw new Error(`no socket with peer port ${peerPort}`);
}

/** Accept one TLS connection from `listener` and report its TCP_NODELAY. */
async function acceptedNoDelay(listener: Deno.Listener, caCert: string): Promise<boolean> {
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted = listener.accept();
  const client = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caCert] });
  const server = await accepted;
  try {
    await Promise.all([client.handshake(), (server as Deno.TlsConn).handshake()]);
    return noDelayOfSocketWithPeer((client.localAddr as Deno.NetAddr).port);
  } finally {
    client.close();
    server.close();
  }
}

Deno.test({
  name: "listenNoDelay: a TLS listener's accepted connections have TCP_NODELAY",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using certs = await makeTestCerts();
    const tls = {
      cert: await Deno.readTextFile(certs.certFile),
      key: await Deno.readTextFile(certs.keyFile),
    };

    const control = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...tls });
    try {
      assert.equal(await acceptedNoDelay(control, certs.caCert), false, "control listener");
    } finally {
      control.close();
    }

    const opened = listenNoDelay({ hostname: "127.0.0.1", port: 0 }, tls);
    try {
      assert.equal(opened.noDelay, true);
      assert.equal(await acceptedNoDelay(opened.listener, certs.caCert), true);
    } finally {
      opened.listener.close();
    }
  },
});

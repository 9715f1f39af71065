/**
 * {@linkcode NodeSocketConn}: node sockets behind the `Deno.Conn` interface
 * that hoop's splice and header code use; {@linkcode NodeSocketListener}, a
 * `node:net` server behind `Deno.Listener` (for servers that upgrade accepted
 * sockets with `node:tls`, which runs fastest on a real node socket); and
 * {@linkcode connDuplex}, the
 * reverse, a `Deno.Conn` as a node stream, so that `node:tls` can run the
 * server side of a TLS upgrade on a connection Deno accepted (Deno's own
 * `startTls` is client-side only).
 *
 * @module
 */
import net from "node:net";
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { closeQuietly, concatBytes, writeAll } from "./bytes.ts";

/**
 * Receive buffer of {@linkcode NodeSocketConn}: past it the socket is paused,
 * so TCP back-pressure reaches the server instead of memory growing.
 */
const NODE_CONN_HIGH_WATER_BYTES = 256 * 1024;

/**
 * Accepted sockets a {@linkcode NodeSocketListener} holds for `accept()`;
 * past it new ones are closed at once, as a full kernel backlog would refuse them.
 */
const NODE_ACCEPT_QUEUE = 128;

/**
 * Writes of {@linkcode NodeSocketConn} up to this size are copied and
 * resolve at once; larger ones are written in place and resolve when sent.
 * Measured on a node:tls server socket, 300 MB in 16 KiB chunks: copying
 * cost ~1.0 CPU s per GB at ~990 MB/s, in place ~0.7 at ~1,250 MB/s (256 KiB
 * chunks: 0.9 against 0.5 s, 840-1,030 against 1,740 MB/s). Small chunks
 * are copied cheaply from node's Buffer pool and are better not waited for.
 */
const NODE_CONN_COPY_MAX_BYTES = 4 * 1024;

/** Read size of {@linkcode connDuplex}: one TLS record's worth and some. */
const DUPLEX_READ_BYTES = 64 * 1024;
/**
 * `close()` with written bytes still queued (writes resolve once queued, see
 * `write`) ends the socket and waits this long for them to go out before
 * destroying it, so a last error message still reaches the peer.
 */
export const NODE_CONN_CLOSE_FLUSH_MS = 2_000;

/** Options of {@linkcode NodeSocketConn}. */
export interface NodeSocketConnOptions {
  /**
   * Addresses to report instead of the socket's: a TLS socket over
   * {@linkcode connDuplex} has none of its own.
   */
  localAddr?: Deno.NetAddr;
  remoteAddr?: Deno.NetAddr;
}

/**
 * A `Deno.Conn` over a node `net.Socket`/`tls.TLSSocket`. Used where Deno's
 * own TLS falls short: the agent's unverified PostgreSQL TLS modes (node:tls
 * can skip certificate checks, Deno's cannot) and the gateway's TLS data port
 * (Deno's accepted TLS connections have no `setNoDelay`, and Nagle then adds
 * ~40 ms to every session's first answer).
 * It offers what a splice loop uses: `read`, `write`, `closeWrite`, `close`,
 * `setNoDelay`, and the streams.
 */
export class NodeSocketConn implements Deno.TcpConn {
  #sock: net.Socket;
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #closed = false;
  #readable?: ReadableStream<Uint8Array<ArrayBuffer>>;
  #writable?: WritableStream<Uint8Array<ArrayBufferLike>>;
  #listeners: [string, (...a: never[]) => void][];
  #addrs: NodeSocketConnOptions;

  constructor(sock: net.Socket, opts: NodeSocketConnOptions = {}) {
    this.#sock = sock;
    this.#addrs = opts;
    const onData = (d: Buffer) => {
      this.#chunks.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      this.#queued += d.byteLength;
      if (this.#queued >= NODE_CONN_HIGH_WATER_BYTES) sock.pause();
      this.#notify();
    };
    const onEnd = () => {
      this.#ended = true;
      this.#notify();
    };
    const onError = (e: Error) => {
      this.#error = e;
      this.#notify();
    };
    const onClose = () => {
      this.#ended = true;
      this.#notify();
    };
    this.#listeners = [["data", onData], ["end", onEnd], ["error", onError], ["close", onClose]];
    for (const [ev, fn] of this.#listeners) sock.on(ev, fn as (...a: unknown[]) => void);
  }

  /**
   * Stop listening (the socket is handed to node:tls). Returns the bytes
   * received but not yet read, which a TLS server must refuse: they arrived
   * before the handshake, unprotected.
   */
  detach(): Uint8Array {
    for (const [ev, fn] of this.#listeners) this.#sock.off(ev, fn as (...a: unknown[]) => void);
    this.#sock.pause();
    const unread = concatBytes(this.#chunks);
    this.#chunks = [];
    this.#queued = 0;
    return unread;
  }

  /** The node socket underneath, for a TLS upgrade after {@linkcode detach}. */
  get socket(): net.Socket {
    return this.#sock;
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended || this.#closed) return null;
      if (this.#sock.isPaused()) this.#sock.resume();
      await new Promise<void>((r) => this.#wake = r);
    }
    let n = 0;
    while (n < p.length && this.#chunks.length > 0) {
      const c = this.#chunks[0];
      const take = Math.min(c.length, p.length - n);
      p.set(c.subarray(0, take), n);
      n += take;
      if (take === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(take);
    }
    this.#queued -= n;
    if (this.#queued < NODE_CONN_HIGH_WATER_BYTES / 2 && this.#sock.isPaused()) this.#sock.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("the connection is closed"));
    }
    if (this.#error) return Promise.reject(this.#error);
    if (p.byteLength > NODE_CONN_COPY_MAX_BYTES) return this.#writeInPlace(p);
    // Copy: callers reuse their buffers as soon as write() resolves.
    const data = Buffer.from(p);
    // Below the socket's high-water mark the bytes are queued: resolve now, so the
    // caller reads its next chunk while this one is encrypted and sent. Above it,
    // wait for "drain" (back-pressure); a failure surfaces on the next call.
    if (this.#sock.write(data)) return Promise.resolve(p.length);
    // After close() ends the socket, "finish" (all flushed) comes instead of "drain".
    return this.#settleOn(["drain", "finish"], p.length);
  }

  /**
   * A large chunk goes to the socket as a view of the caller's buffer and the
   * write resolves when the socket is done with it, since the caller then
   * reuses the buffer: no allocation and copy per chunk, and one chunk in
   * flight is back-pressure enough.
   */
  #writeInPlace(p: Uint8Array): Promise<number> {
    const view = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    return this.#settleOn([], p.length, (finish) => {
      this.#sock.write(view, (err?: Error | null) => finish(err ?? undefined));
    });
  }

  /**
   * Resolve with `n` at the first of `events` (or when `start`'s callback
   * says so), reject when the socket closes or fails first.
   */
  #settleOn(
    events: string[],
    n: number,
    start?: (finish: (err?: Error) => void) => void,
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        for (const ev of events) this.#sock.off(ev, onDone);
        this.#sock.off("close", onClose);
        this.#sock.off("error", onError);
        if (err) reject(err);
        else resolve(n);
      };
      const onDone = () => finish();
      const onClose = () =>
        finish(this.#error ?? new Deno.errors.BrokenPipe("the connection closed"));
      const onError = (e: Error) => finish(e);
      for (const ev of events) this.#sock.on(ev, onDone);
      this.#sock.on("close", onClose);
      this.#sock.on("error", onError);
      start?.(finish);
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#sock.end(resolve));
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("the connection is already closed");
    this.#closed = true;
    const sock = this.#sock;
    if (sock.writableLength > 0 && !sock.destroyed && !this.#error) {
      const timer = setTimeout(() => sock.destroy(), NODE_CONN_CLOSE_FLUSH_MS);
      Deno.unrefTimer(timer);
      sock.once("close", () => clearTimeout(timer));
      sock.end();
    } else {
      sock.destroy();
    }
    this.#notify();
  }

  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }

  setNoDelay(noDelay = true): void {
    this.#sock.setNoDelay(noDelay);
  }

  setKeepAlive(keepAlive = true): void {
    this.#sock.setKeepAlive(keepAlive);
  }

  ref(): void {
    this.#sock.ref();
  }

  unref(): void {
    this.#sock.unref();
  }

  get localAddr(): Deno.NetAddr {
    if (this.#addrs.localAddr) return this.#addrs.localAddr;
    return {
      transport: "tcp",
      hostname: this.#sock.localAddress ?? "",
      port: this.#sock.localPort ?? 0,
    };
  }

  get remoteAddr(): Deno.NetAddr {
    if (this.#addrs.remoteAddr) return this.#addrs.remoteAddr;
    return {
      transport: "tcp",
      hostname: this.#sock.remoteAddress ?? "",
      port: this.#sock.remotePort ?? 0,
    };
  }

  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream({
      pull: async (ctl) => {
        const buf = new Uint8Array(64 * 1024);
        const n = await this.read(buf);
        if (n === null) ctl.close();
        else ctl.enqueue(buf.subarray(0, n));
      },
      cancel: () => {
        if (!this.#closed) this.close();
      },
    });
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array<ArrayBufferLike>> {
    this.#writable ??= new WritableStream({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: () => this.closeWrite(),
    });
    return this.#writable;
  }
}

/**
 * A node `Duplex` over `conn`, starting with `replay` (bytes already read
 * from `conn` that belong to the stream, such as a TLS ClientHello's first
 * bytes). Reads happen only when the stream wants more, so back-pressure
 * reaches the peer; destroying the stream closes `conn`.
 */
export function connDuplex(conn: Deno.Conn, replay?: Uint8Array): Duplex {
  let pending = replay?.length ? Buffer.from(replay) : undefined;
  let reading = false;
  return new Duplex({
    read() {
      if (pending) {
        const first = pending;
        pending = undefined;
        this.push(first);
        return;
      }
      if (reading) return;
      reading = true;
      const buf = new Uint8Array(DUPLEX_READ_BYTES);
      conn.read(buf).then(
        (n) => {
          reading = false;
          this.push(n === null ? null : Buffer.from(buf.buffer, 0, n));
        },
        (err) => {
          reading = false;
          this.destroy(err);
        },
      );
    },
    write(chunk: Buffer, _encoding, done) {
      writeAll(conn, chunk).then(() => done(), done);
    },
    final(done) {
      conn.closeWrite().then(() => done(), () => done());
    },
    destroy(err, done) {
      closeQuietly(conn);
      done(err);
    },
  });
}

/**
 * node's errno codes of a failed listen, as the `Deno.errors` (and the OS
 * wording) that `Deno.listen` would have thrown, so callers explain both alike.
 */
function listenError(err: Error & { code?: string }): Error {
  const as: Record<string, [new (m: string, o?: ErrorOptions) => Error, string]> = {
    EADDRINUSE: [Deno.errors.AddrInUse, "Address already in use"],
    EACCES: [Deno.errors.PermissionDenied, "Permission denied"],
    EADDRNOTAVAIL: [Deno.errors.AddrNotAvailable, "Cannot assign requested address"],
  };
  const known = as[err.code ?? ""];
  return known ? new known[0](known[1], { cause: err }) : err;
}

/**
 * A `node:net` TCP server as a `Deno.Listener` of {@linkcode NodeSocketConn}s,
 * so that `acceptLoop` serves it like any other listener. Sockets allow
 * half-close, as Deno's do.
 */
export class NodeSocketListener implements Deno.Listener<NodeSocketConn, Deno.NetAddr> {
  #server: net.Server;
  #queue: net.Socket[] = [];
  #waiting: { resolve(c: NodeSocketConn): void; reject(e: Error): void }[] = [];
  #closed = false;
  #addr: Deno.NetAddr;

  private constructor(server: net.Server) {
    this.#server = server;
    const a = server.address() as net.AddressInfo;
    this.#addr = { transport: "tcp", hostname: a.address, port: a.port };
    server.on("connection", (sock: net.Socket) => {
      const waiter = this.#waiting.shift();
      if (waiter) waiter.resolve(new NodeSocketConn(sock));
      else if (this.#queue.length < NODE_ACCEPT_QUEUE) this.#queue.push(sock);
      else sock.destroy();
    });
  }

  /** Listen on `hostname:port` (port 0: any free port); rejects with `Deno.errors.AddrInUse` and kin. */
  static listen(opts: { hostname: string; port: number }): Promise<NodeSocketListener> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    return new Promise((resolve, reject) => {
      server.once("error", (err) => reject(listenError(err)));
      server.listen(opts.port, opts.hostname, () => resolve(new NodeSocketListener(server)));
    });
  }

  get addr(): Deno.NetAddr {
    return this.#addr;
  }

  accept(): Promise<NodeSocketConn> {
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("the listener is closed"));
    }
    const sock = this.#queue.shift();
    if (sock) return Promise.resolve(new NodeSocketConn(sock));
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("the listener is already closed");
    this.#closed = true;
    this.#server.close();
    for (const sock of this.#queue.splice(0)) sock.destroy();
    for (const w of this.#waiting.splice(0)) {
      w.reject(new Deno.errors.BadResource("the listener is closed"));
    }
  }

  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }

  ref(): void {
    this.#server.ref();
  }

  unref(): void {
    this.#server.unref();
  }

  async *[Symbol.asyncIterator](): AsyncIterableIterator<NodeSocketConn> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (err) {
        if (err instanceof Deno.errors.BadResource) return;
        throw err;
      }
    }
  }
}

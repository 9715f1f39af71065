/**
 * The API port's front door. `Deno.serve` has no header deadline: a client
 * that sends half a request line and waits holds its connection (and a file
 * descriptor) for ever, so a few thousand of them starve the gateway. The
 * front accepts connections itself (TCP or TLS), allows each source address
 * at most {@linkcode MAX_HTTP_CONNECTIONS_PER_ADDRESS} at once, requires the
 * first request's header block within {@linkcode HTTP_HEADER_TIMEOUT_MS} and
 * {@linkcode MAX_HTTP_HEADER_BYTES}, closes connections idle for
 * {@linkcode HTTP_IDLE_TIMEOUT_MS}, and only then relays them to the HTTP
 * server, which listens on a loopback port of its own. The handler learns
 * the real peer through {@linkcode HttpFront.peerOf}.
 *
 * @module
 */
import { acceptLoop } from "../proto/accept_loop.ts";
import { closeQuietly, writeAll } from "../proto/bytes.ts";
import type { HostPort } from "../proto/host_port.ts";
import { listenNoDelay } from "../proto/listen.ts";
import type { Logger } from "../proto/log.ts";
import { splice } from "../proto/splice.ts";

/** A client must finish its first request's headers this fast; else 408 and close. */
export const HTTP_HEADER_TIMEOUT_MS = 10_000;

/** Largest header block of a first request; a larger one gets 431 and close. */
export const MAX_HTTP_HEADER_BYTES = 64 * 1024;

/**
 * Open API connections one source address may hold; the next is closed at
 * once. Generous, since a whole office may share one address and
 * `hoop connect` opens one session per client connection; the header
 * deadline is what ends a slow client.
 */
export const MAX_HTTP_CONNECTIONS_PER_ADDRESS = 1024;

/** A connection with no byte either way for this long is closed. */
export const HTTP_IDLE_TIMEOUT_MS = 120_000;

/** Options of {@linkcode startHttpFront}. */
export interface HttpFrontOptions {
  log: Logger;
  tls?: { cert: string; key: string };
  /** The HTTP handler; `peer` is the client's address as the front saw it. */
  handler(req: Request, peer: Deno.NetAddr): Response | Promise<Response>;
  headerTimeoutMs?: number;
  idleTimeoutMs?: number;
  maxConnectionsPerAddress?: number;
}

/** A running front door. */
export interface HttpFront {
  /** Where clients connect. */
  readonly addr: HostPort;
  /** Connections open from `hostname` right now. */
  connectionsFrom(hostname: string): number;
  /** Stop accepting, end the HTTP server. */
  close(): Promise<void>;
}

const HEADER_END = new Uint8Array([13, 10, 13, 10]);

function indexOfHeaderEnd(buf: Uint8Array, end: number, from: number): number {
  for (let i = Math.max(0, from - 3); i + 4 <= end; i++) {
    if (
      buf[i] === HEADER_END[0] && buf[i + 1] === HEADER_END[1] && buf[i + 2] === HEADER_END[2] &&
      buf[i + 3] === HEADER_END[3]
    ) return i + 4;
  }
  return -1;
}

const encoder = new TextEncoder();

function plainResponse(status: string, text: string): Uint8Array {
  return encoder.encode(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${
      encoder.encode(text).length
    }\r\nConnection: close\r\n\r\n${text}`,
  );
}

/**
 * Read until the first header block is complete. Resolves the bytes read (to
 * be passed on), or a refusal to answer with.
 */
async function readFirstHeaders(
  conn: Deno.Conn,
  timeoutMs: number,
  tlsPort: boolean,
): Promise<{ bytes: Uint8Array } | { refuse: Uint8Array }> {
  const buf = new Uint8Array(MAX_HTTP_HEADER_BYTES);
  let end = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    while (end < buf.length) {
      const got = await Promise.race([conn.read(buf.subarray(end)), expired]);
      if (got === "timeout") {
        return { refuse: plainResponse("408 Request Timeout", "request headers took too long\n") };
      }
      if (got === null) return { bytes: buf.subarray(0, end) };
      // A TLS ClientHello on a plain port: answer plain text at once (the client
      // reads it as "not TLS" and can say so) instead of at the header deadline.
      if (end === 0 && !tlsPort && buf[0] === 0x16) {
        return { refuse: plainResponse("400 Bad Request", "this port speaks HTTP, not TLS\n") };
      }
      const before = end;
      end += got;
      if (indexOfHeaderEnd(buf, end, before) >= 0) return { bytes: buf.subarray(0, end) };
    }
    return {
      refuse: plainResponse("431 Request Header Fields Too Large", "request headers too large\n"),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Start the front on `listen` and the HTTP server behind it. */
export function startHttpFront(listen: HostPort, opts: HttpFrontOptions): HttpFront {
  const headerTimeoutMs = opts.headerTimeoutMs ?? HTTP_HEADER_TIMEOUT_MS;
  const idleTimeoutMs = opts.idleTimeoutMs ?? HTTP_IDLE_TIMEOUT_MS;
  const maxPerAddress = opts.maxConnectionsPerAddress ?? MAX_HTTP_CONNECTIONS_PER_ADDRESS;
  /** Inner connection's local port → the client it carries. */
  const peers = new Map<number, Deno.NetAddr>();
  const perAddress = new Map<string, number>();
  // The public listener first: if its address is taken, nothing else was started.
  const { listener, noDelay } = listenNoDelay(listen, opts.tls);
  if (opts.tls && !noDelay) {
    opts.log.warn(
      "API port: cannot turn Nagle's algorithm off for TLS connections (needs Linux and --allow-ffi); responses may wait ~40 ms",
    );
  }
  const inner = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => opts.handler(req, peers.get(info.remoteAddr.port) ?? info.remoteAddr),
  );

  async function serve(conn: Deno.Conn): Promise<void> {
    const peer = conn.remoteAddr as Deno.NetAddr;
    const count = perAddress.get(peer.hostname) ?? 0;
    if (count >= maxPerAddress) {
      opts.log.warn("API connection refused: too many from one address", {
        peer: peer.hostname,
        limit: maxPerAddress,
      });
      closeQuietly(conn);
      return;
    }
    perAddress.set(peer.hostname, count + 1);
    let back: Deno.TcpConn | undefined;
    try {
      const first = await readFirstHeaders(conn, headerTimeoutMs, opts.tls !== undefined);
      if ("refuse" in first) {
        await writeAll(conn, first.refuse).catch(() => {});
        return;
      }
      back = await Deno.connect({ hostname: "127.0.0.1", port: inner.addr.port });
      back.setNoDelay(true);
      peers.set((back.localAddr as Deno.NetAddr).port, peer);
      await writeAll(back, first.bytes);
      const idle = new AbortController();
      let timer = setTimeout(() => idle.abort(), idleTimeoutMs);
      await splice(conn, back, {
        signal: idle.signal,
        observer: {
          onData() {
            clearTimeout(timer);
            timer = setTimeout(() => idle.abort(), idleTimeoutMs);
          },
        },
      });
      clearTimeout(timer);
    } finally {
      if (back) peers.delete((back.localAddr as Deno.NetAddr).port);
      closeQuietly(back);
      closeQuietly(conn);
      const left = (perAddress.get(peer.hostname) ?? 1) - 1;
      if (left <= 0) perAddress.delete(peer.hostname);
      else perAddress.set(peer.hostname, left);
    }
  }

  const loop = acceptLoop<Deno.Conn>(listener, serve, {
    onAcceptError: (err) => opts.log.warn("API accept failed", { err }),
    onError: (err) => opts.log.debug("API connection failed", { err }),
  });
  const bound = listener.addr as Deno.NetAddr;
  return {
    addr: { hostname: bound.hostname, port: bound.port },
    connectionsFrom: (hostname) => perAddress.get(hostname) ?? 0,
    async close() {
      loop.close();
      await inner.shutdown();
    },
  };
}

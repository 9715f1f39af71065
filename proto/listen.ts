/**
 * Opening hoop's TCP listeners (the gateway's data and API ports), TLS or
 * not, with Nagle's algorithm off for every connection they accept.
 *
 * Connections accepted by `Deno.listenTls` have no `setNoDelay`. With Nagle
 * on, a small write waits for the peer's ACK of the previous one, and the
 * peer delays that ACK by ~40 ms: measured on a data connection, one header
 * and status exchange right after the handshake took 44 ms (the status byte
 * waited for the ACK of the TLS session tickets), and a PostgreSQL start-up,
 * several writes in a row, paid it again. Linux copies TCP_NODELAY from a
 * listening socket to the sockets it accepts, so setting it once on the
 * listener (through libc: Deno does not expose the descriptor) fixes every
 * connection: the same exchange then took 1.6 ms.
 *
 * @module
 */
import type { HostPort } from "./host_port.ts";
import { openLibc } from "./libc.ts";

/** PEM certificate (chain) and key of a TLS listener. */
export interface ListenTls {
  cert: string;
  key: string;
}

/** A listener and whether its accepted connections have Nagle off. */
export interface OpenedListener {
  listener: Deno.Listener;
  /**
   * False when TCP_NODELAY could not be set on the listener (not Linux, no
   * `--allow-ffi`): TLS connections then keep Nagle's algorithm, and small
   * writes may wait ~40 ms. Plain TCP connections get it per connection
   * anyway (proto/accept_loop.ts).
   */
  noDelay: boolean;
}

/**
 * Highest file descriptor searched for the listener's socket. Deno hands out
 * the lowest free descriptor, so a listener sits far below this unless the
 * process holds tens of thousands of files; beyond it Nagle simply stays on.
 */
export const MAX_LISTENER_FD = 65_536;

const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const AF_INET = 2;
const AF_INET6 = 10;

const SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
} as const;

type SocketCalls = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let socketCalls: SocketCalls | null | undefined;

/** libc's socket calls, or null off Linux and without `--allow-ffi`. */
function loadSocketCalls(): SocketCalls | null {
  // The descriptor scan below assumes Linux's sockaddr layout.
  if (socketCalls === undefined) {
    socketCalls = Deno.build.os === "linux" ? openLibc(SYMBOLS) ?? null : null;
  }
  return socketCalls;
}

/**
 * Set TCP_NODELAY on this process's listening TCP socket bound to `port`
 * (two listeners cannot share a port here: hoop never sets SO_REUSEPORT).
 * Returns whether one was found and set.
 */
function setNoDelayOnListener(calls: SocketCalls, port: number): boolean {
  const addr = new Uint8Array(128);
  const addrLen = new Uint32Array(1);
  const addrLenBytes = new Uint8Array(addrLen.buffer);
  const value = new Int32Array(1);
  const valueBytes = new Uint8Array(value.buffer);
  const valueLen = new Uint32Array(1);
  const valueLenBytes = new Uint8Array(valueLen.buffer);
  const one = new Uint8Array(new Int32Array([1]).buffer);
  for (let fd = 3; fd < MAX_LISTENER_FD; fd++) {
    addrLen[0] = addr.length;
    if (calls.getsockname(fd, addr, addrLenBytes) !== 0) continue;
    const family = addr[0] | (addr[1] << 8);
    if (family !== AF_INET && family !== AF_INET6) continue;
    if (((addr[2] << 8) | addr[3]) !== port) continue;
    valueLen[0] = 4;
    const listening = calls.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, valueBytes, valueLenBytes) ===
        0 && value[0] === 1;
    if (!listening) continue;
    return calls.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4) === 0;
  }
  return false;
}

/**
 * Listen on `addr`, with TLS when `tls` is given, and turn Nagle off for
 * what it accepts where the platform allows. Throws what `Deno.listen` /
 * `Deno.listenTls` throw (an address in use, a bad certificate).
 */
export function listenNoDelay(addr: HostPort, tls?: ListenTls): OpenedListener {
  const listener = tls
    ? Deno.listenTls({ hostname: addr.hostname, port: addr.port, cert: tls.cert, key: tls.key })
    : Deno.listen({ hostname: addr.hostname, port: addr.port });
  const calls = loadSocketCalls();
  const port = (listener.addr as Deno.NetAddr).port;
  return { listener, noDelay: calls !== null && setNoDelayOnListener(calls, port) };
}

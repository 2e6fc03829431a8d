/**
 * TCP over IPv4 through libc: listen, accept, connect, options, poll. Blocking
 * sockets, for worker processes (bench's sink and workers) that have nothing
 * else to do while they wait.
 * @module
 */

import { ErrnoError, unwrap } from "./errno.ts";
import { Fd } from "./fd.ts";
import { libc } from "./libc.ts";

/** IPv4. */
export const AF_INET = 2;
/** Stream socket. */
export const SOCK_STREAM = 1;
/** Close-on-exec, as a socket type flag. */
export const SOCK_CLOEXEC = 0o2000000;
/** Socket-level options. */
export const SOL_SOCKET = 1;
/** Reuse a local address in TIME_WAIT. */
export const SO_REUSEADDR = 2;
/** Send buffer size. */
export const SO_SNDBUF = 7;
/** Receive buffer size. */
export const SO_RCVBUF = 8;
/** TCP-level options. */
export const IPPROTO_TCP = 6;
/** Disable Nagle. */
export const TCP_NODELAY = 1;
/** `shutdown(2)`: no more sends. */
export const SHUT_WR = 1;
/** `recv(2)`: wait for the full length. */
export const MSG_WAITALL = 0x100;
/** `send(2)`: no SIGPIPE. */
export const MSG_NOSIGNAL = 0x4000;
/** `poll(2)`: data to read. */
export const POLLIN = 1;
/** `poll(2)`: peer hung up. */
export const POLLHUP = 0x10;

function sockaddrIn(host: string, port: number): Uint8Array {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  const octets = m ? m.slice(1).map(Number) : [];
  if (!m || octets.some((o) => o > 255)) {
    throw new TypeError(`Invalid IPv4 address '${host}': use dotted quads like 127.0.0.1`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Invalid port ${port}: use 0 to 65535`);
  }
  const sa = new Uint8Array(16);
  sa[0] = AF_INET; // sa_family, little-endian u16
  sa[2] = port >> 8; // sin_port, big-endian
  sa[3] = port & 0xff;
  sa.set(octets, 4);
  return sa;
}

/**
 * Sets an integer socket option.
 * @param fd the socket
 * @param level SOL_SOCKET, IPPROTO_TCP, ...
 * @param name the option
 * @param value its value
 */
export function setSocketOption(fd: number, level: number, name: number, value: number): void {
  unwrap(libc().setsockopt(fd, level, name, new Int32Array([value]), 4), "setsockopt");
}

/**
 * The local port a socket is bound to.
 * @param fd the socket
 * @returns the port
 */
export function localPort(fd: number): number {
  const sa = new Uint8Array(16);
  const len = new Uint32Array([16]);
  unwrap(libc().getsockname(fd, sa, len), "getsockname");
  return (sa[2]! << 8) | sa[3]!;
}

function tcpSocket(): Fd {
  return new Fd(unwrap(libc().socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"), "socket");
}

/** Options of {@linkcode tcpListen}. */
export interface ListenOptions {
  /** @default "127.0.0.1" */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** @default 16 */
  backlog?: number;
}

/**
 * A listening TCP socket.
 * @param options host, port, backlog
 * @returns the socket; {@linkcode localPort} tells its port
 * @example
 * ```ts
 * import { localPort, tcpListen } from "./socket.ts";
 * using s = tcpListen();
 * console.assert(localPort(s.fd) > 0);
 * ```
 */
export function tcpListen(options: ListenOptions = {}): Fd {
  const { host = "127.0.0.1", port = 0, backlog = 16 } = options;
  const sa = sockaddrIn(host, port);
  const s = tcpSocket();
  try {
    setSocketOption(s.fd, SOL_SOCKET, SO_REUSEADDR, 1);
    unwrap(libc().bind(s.fd, sa, sa.length), "bind", `${host}:${port}`);
    unwrap(libc().listen(s.fd, backlog), "listen");
  } catch (e: unknown) {
    s.close();
    throw e;
  }
  return s;
}

/**
 * Accepts one connection (blocks until one comes).
 * @param listener a socket from {@linkcode tcpListen}
 * @returns the connection
 */
export function acceptConnection(listener: Fd): Fd {
  const fd = unwrap(libc().accept4(listener.fd, null, null, SOCK_CLOEXEC), "accept4");
  return new Fd(fd, "connection");
}

/**
 * Connects to a TCP port (blocks until connected).
 * @param port the port
 * @param options `host` (@default "127.0.0.1")
 * @returns the connected socket
 */
export function tcpConnect(port: number, options: { host?: string } = {}): Fd {
  const { host = "127.0.0.1" } = options;
  const sa = sockaddrIn(host, port);
  const s = tcpSocket();
  try {
    unwrap(libc().connect(s.fd, sa, sa.length), "connect", `${host}:${port}`);
  } catch (e: unknown) {
    s.close();
    throw e;
  }
  return s;
}

/**
 * Ends the sending side (`shutdown(SHUT_WR)`): the peer reads end of file.
 * @param fd the socket
 */
export function shutdownWrite(fd: number): void {
  unwrap(libc().shutdown(fd, SHUT_WR), "shutdown");
}

/**
 * `poll(2)` on one descriptor, without reading from it.
 * @param fd the descriptor
 * @param events POLLIN, ...
 * @param timeoutMs -1 waits for ever
 * @returns the events that happened (0 on timeout)
 */
export function pollOne(fd: number, events: number, timeoutMs: number): number {
  const pfd = new Int16Array(4); // struct pollfd { int fd; short events; short revents; }
  new Int32Array(pfd.buffer)[0] = fd;
  pfd[2] = events;
  for (;;) {
    try {
      const n = unwrap(libc().poll(pfd, 1n, timeoutMs), "poll");
      return n === 0 ? 0 : pfd[3]! & 0xffff;
    } catch (e: unknown) {
      if (!(e instanceof ErrnoError && e.code === "EINTR")) throw e;
    }
  }
}

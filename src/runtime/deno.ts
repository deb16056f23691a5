/**
 * The Deno adapter: `Deno.listen` connections as {@link Transport}s, with TLS on top for `wss://`
 * (node:tls, see tls_accept.ts: a `Deno.listenTls` socket cannot be closed during its handshake).
 * Reads and writes go through a stream source and sink of our own over `conn.read` and
 * `conn.write`, which hold less per connection than Deno's own `conn.readable` and
 * `conn.writable`.
 * @module
 */

import type { DialFunction, ListenFunction, NetAddress, Transport } from "../transport.ts";
import { DialFailure } from "../errors.ts";
import {
  dialReason,
  hostPort,
  kindOfCode,
  listenError,
  type NetFailureKind,
} from "./net_errors.ts";
import { acceptTls, tlsContext } from "./tls_accept.ts";
import { DescriptorLimitReport, isOutOfDescriptors } from "./descriptor_limit.ts";
import { WRITE_STRATEGY } from "./write_strategy.ts";

/**
 * Listens with `Deno.listen`; with a certificate, each accepted socket starts its TLS handshake
 * (node:tls) and is handed over at once, so the server's handshake timer runs from TCP accept and
 * can close a socket whose handshake never completes. `reusePort` needs Linux and Deno's
 * `--unstable-net` flag; without either it throws.
 */
export const listenDeno: ListenFunction = (options, onAccept) => {
  const reusePort = options.reusePort === true;
  if (reusePort) checkReusePort();
  let accept = denoTransport;
  const listenTcp = (port: number) =>
    Deno.listen({ hostname: options.hostname, port, transport: "tcp", reusePort });
  let listener: Deno.Listener;
  try {
    // The certificate first: one that cannot be used fails here, before the port is taken.
    if (options.tls !== undefined) {
      const context = tlsContext(options.tls);
      accept = (conn) => acceptTls(denoTransport(conn), context);
    }
    listener = listenTcp(options.port);
  } catch (error) {
    // Deno names neither the address nor, for a name lookup, the kind of failure.
    throw listenError(options.hostname, options.port, denoKind(error), error);
  }
  const address = netAddress(listener.addr);
  const limit = new DescriptorLimitReport(address.hostname, address.port);
  let open = true;

  /**
   * Out of descriptors, the connections waiting in the accept queue cannot be accepted, nor
   * refused one by one (closing one takes a descriptor, and Deno's permissions allow no spare
   * one to be kept, as libuv does). Closing the listening socket resets them all and frees its
   * own descriptor, which the new listener on the same port takes back at once. Until it
   * listens again (should that descriptor be gone meanwhile, or the port taken), connections
   * are refused, and it retries with a growing delay.
   */
  const refuseWaiting = async () => {
    listener.close();
    let told = false;
    for (let delay = MIN_RETRY_MS; open; delay = Math.min(2 * delay, MAX_RETRY_MS)) {
      try {
        listener = listenTcp(address.port);
        return;
      } catch (error) {
        // Out of descriptors still: the warning has been given. Anything else, once.
        if (!told && !isOutOfDescriptors(error)) {
          told = true;
          console.error(
            `edgews: cannot listen on ${hostPort(address.hostname, address.port)} again; retrying:`,
            error,
          );
        }
        await sleep(delay);
      }
    }
  };

  (async () => {
    let delay = MIN_RETRY_MS;
    while (open) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (!open) return;
        if (isOutOfDescriptors(error)) {
          limit.reached();
          await refuseWaiting();
          continue;
        }
        if (error instanceof Deno.errors.BadResource) return;
        // A connection reset while it waited, or the kernel short of memory: keep serving, but
        // without retrying at once an accept that keeps failing.
        await sleep(delay);
        delay = Math.min(2 * delay, MAX_RETRY_MS);
        continue;
      }
      delay = MIN_RETRY_MS;
      limit.recovered();
      onAccept(accept(conn));
    }
  })();
  return {
    address,
    close() {
      if (!open) return;
      open = false;
      try {
        listener.close();
      } catch {
        // Closed already, between an accept that ran out of descriptors and listening again.
      }
    },
  };
};

/** The first and the longest wait before retrying a failed accept or listen, in ms. */
const MIN_RETRY_MS = 10;
const MAX_RETRY_MS = 1_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Throws unless `reusePort` can work here. Deno ignores it silently outside Linux, and without
 * `--unstable-net` Deno 2.9 ends the whole process (exit code 70) instead of throwing, so both
 * are checked before asking.
 */
function checkReusePort(): void {
  if (Deno.build.os !== "linux") {
    throw new Error(`reusePort (SO_REUSEPORT) is supported on Linux only, not on ${Deno.build.os}`);
  }
  // No API reports which unstable features are on; `--unstable-net` (or `"unstable": ["net"]` in
  // deno.json) is what defines Deno.listenDatagram, so its presence tells.
  if (!("listenDatagram" in Deno)) {
    throw new Error(
      'reusePort needs Deno\'s --unstable-net flag (or "unstable": ["net"] in deno.json): ' +
        "SO_REUSEPORT on Deno.listen is unstable in Deno 2",
    );
  }
}

/**
 * Connects with `Deno.connect`, then `Deno.startTls` for TLS, which lets the name verified (and
 * sent as SNI) differ from the address dialled.
 */
export const dialDeno: DialFunction = async (options) => {
  const where = {
    hostname: options.hostname,
    port: options.port,
    tls: false,
    serverName: options.tls?.serverName ?? options.hostname,
  };
  let tcp: Deno.TcpConn;
  try {
    tcp = await Deno.connect({ hostname: options.hostname, port: options.port });
  } catch (error) {
    throw new DialFailure(dialReason(denoKind(error), error, where), error);
  }
  options.onConnected?.();
  if (options.tls === undefined) return denoTransport(tcp);
  try {
    const tls = await Deno.startTls(tcp, {
      hostname: where.serverName,
      caCerts: options.tls.caCerts,
    });
    // Finish the TLS handshake here, so a certificate error fails the dial, not the first read.
    await tls.handshake();
    return denoTransport(tls);
  } catch (error) {
    try {
      tcp.close();
    } catch {
      // startTls consumed it already.
    }
    throw new DialFailure(dialReason(denoKind(error), error, { ...where, tls: true }), error);
  }
};

/**
 * Sorts a Deno error into a {@link NetFailureKind}. OS errors carry a `code`; a failed name
 * lookup and rustls's TLS errors carry only a message, so those are recognised by their text
 * (rustls's error names: `InvalidContentType` is what a plain-HTTP answer to a ClientHello gives).
 */
function denoKind(error: unknown): NetFailureKind | undefined {
  if (error instanceof Deno.errors.NotCapable) return "no-net-permission";
  const byCode = kindOfCode(error);
  if (byCode !== undefined) return byCode;
  if (error instanceof Deno.errors.UnexpectedEof) return "tls-closed";
  const message = error instanceof Error ? error.message : "";
  if (/failed to lookup address|name or service not known/i.test(message)) return "unresolved";
  if (/InvalidContentType|corrupt message|WrongVersion/i.test(message)) return "not-tls";
  if (/not valid for name|NotValidForName/i.test(message)) return "wrong-name";
  if (/UnknownIssuer|BadSignature|UnknownCA|self[- ]signed/i.test(message)) return "untrusted";
  return undefined;
}

/** Wraps a Deno connection (TCP or TLS). */
export function denoTransport(conn: Deno.Conn): Transport {
  if ("setNoDelay" in conn) {
    // WebSocket frames are small and latency-sensitive; the sender already batches writes.
    (conn as Deno.TcpConn).setNoDelay(true);
  }
  return new DenoTransport(conn);
}

/** A Deno connection as a {@link Transport}: a class, so that an idle one holds no closure. */
class DenoTransport implements Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly remoteAddress: NetAddress;
  readonly localAddress: NetAddress;
  readonly #conn: Deno.Conn;
  readonly #source: ConnSource;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#source = new ConnSource(conn);
    this.readable = new ReadableStream<Uint8Array>(this.#source);
    this.writable = new WritableStream<Uint8Array>(
      new ConnSink(conn, this.#source),
      WRITE_STRATEGY,
    );
    this.remoteAddress = netAddress(conn.remoteAddr);
    this.localAddress = netAddress(conn.localAddr);
  }

  closeWrite(): void {
    this.#conn.closeWrite().catch(ignoreClosed);
  }

  drop(): void {
    this.#source.close();
  }
}

/**
 * The read buffer follows the traffic: twice the last read, between these sizes. An idle
 * connection's pending read holds the smallest.
 */
const MIN_READ = 1024;
const MAX_READ = 64 * 1024;

/**
 * A Deno connection's reads as a stream source: `conn.read` into one reused buffer, enqueueing a
 * copy of what arrived (a fresh chunk, the reader's to keep).
 *
 * Not `conn.readable`: a pending read on Deno's byte stream (its BYOB reader, the pull-into
 * descriptor, the buffer moved into a new ArrayBuffer on every read) holds about 1.4 KB of heap,
 * against about 0.4 KB here, and every connection has one pending read all the time. And its
 * default reader allocates 64 KiB per read. The copy of each read costs little next to that.
 */
class ConnSource implements UnderlyingDefaultSource<Uint8Array> {
  readonly #conn: Deno.Conn;
  #buffer = new Uint8Array(MIN_READ);
  #cancelled = false;
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    // One read at a time: the stream calls pull again only after this one settles and only
    // while its queue has room (one chunk), so a connection nobody reads stops reading.
    const buffer = this.#buffer;
    let read: number | null;
    try {
      read = await this.#conn.read(buffer);
    } catch (error) {
      if (!this.#cancelled) controller.error(error);
      return;
    }
    if (this.#cancelled) return;
    if (read === null) {
      // The peer's FIN: the whole connection is released, as Deno's own `conn.readable` does
      // (and as Node does by default, and Bun): above the adapters, a socket whose peer has
      // finished is not closed again.
      controller.close();
      this.close();
      return;
    }
    controller.enqueue(buffer.slice(0, read));
    const wanted = Math.min(MAX_READ, Math.max(MIN_READ, read * 2));
    if (wanted !== buffer.length) this.#buffer = new Uint8Array(wanted);
  }

  /** Cancelling the readable drops the whole connection, as cancelling `conn.readable` does. */
  cancel(): void {
    this.#cancelled = true;
    this.close();
  }

  /**
   * Closes the connection, once (closing it again would throw, with a stack trace to build). A
   * read still pending then fails, which ends the stream.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Closed already, by a path that did not come through here.
    }
  }
}

/**
 * A Deno connection's writes, as a WritableStream's sink: a write resolves once Deno has taken
 * every byte; closing or aborting the stream closes the connection, as `conn.writable` does.
 *
 * Not `conn.writable`, whose queue of one chunk cannot be changed (see WRITE_STRATEGY).
 */
class ConnSink implements UnderlyingSink<Uint8Array> {
  readonly #conn: Deno.Conn;
  readonly #source: ConnSource;

  constructor(conn: Deno.Conn, source: ConnSource) {
    this.#conn = conn;
    this.#source = source;
  }

  async write(chunk: Uint8Array): Promise<void> {
    let rest = chunk;
    while (rest.length > 0) rest = rest.subarray(await this.#conn.write(rest));
  }

  close(): void {
    this.#source.close();
  }

  abort(): void {
    this.#source.close();
  }
}

function ignoreClosed(): void {
  // Already closed: nothing left to half-close.
}

function netAddress(addr: Deno.Addr): NetAddress {
  return addr.transport === "tcp" || addr.transport === "udp"
    ? { hostname: addr.hostname, port: addr.port }
    : { hostname: "", port: 0 };
}

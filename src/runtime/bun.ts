/**
 * The Bun adapter: `Bun.listen` sockets (plain or TLS) as {@link Transport}s. Bun's sockets are
 * callback-driven and do not buffer writes, so this file builds the streams: reads go into a
 * ReadableStream (pausing the socket when nobody reads), writes wait for `drain` when the socket
 * takes only part of a chunk.
 * @module
 */

import process from "node:process";
import { isIP } from "node:net";
import type { DialFunction, ListenFunction, NetAddress, Transport } from "../transport.ts";
import { DialFailure } from "../errors.ts";
import { dialReason, kindOfNodeError, listenError, type NetFailureKind } from "./net_errors.ts";
import { atDescriptorLimit, DescriptorLimitReport } from "./descriptor_limit.ts";

/** The part of Bun's socket API this adapter uses (Bun's types are not available under Deno). */
interface BunSocket {
  /** Set by `bunTransport` when the socket opens; undefined before (checked where it matters). */
  data: SocketState;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort: number;
  write(data: Uint8Array): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay: boolean): boolean;
}

interface BunSocketHandler {
  open(socket: BunSocket): void;
  handshake?(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
  data(socket: BunSocket, chunk: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
}

interface BunListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

interface BunGlobal {
  connect(options: {
    hostname: string;
    port: number;
    tls?: { ca?: string[]; serverName?: string; rejectUnauthorized: boolean };
    socket: BunSocketHandler;
  }): Promise<BunSocket>;
  listen(options: {
    hostname: string;
    port: number;
    tls?: { cert: string; key: string };
    reusePort?: boolean;
    socket: BunSocketHandler;
  }): BunListener;
}

/** Per-socket state: the stream controllers and a write that is waiting for `drain`. */
interface SocketState {
  readController: ReadableStreamDefaultController<Uint8Array> | null;
  pendingWrite: Uint8Array | null;
  resolveWrite: (() => void) | null;
  rejectWrite: ((error: Error) => void) | null;
  paused: boolean;
  ended: boolean;
  /** Settles `tlsHandshake` (accepted TLS sockets only): true once it succeeded. */
  settleHandshake: ((success: boolean) => void) | null;
}

const bun = (): BunGlobal => (globalThis as unknown as { Bun: BunGlobal }).Bun;

/** The socket callbacks that feed a transport's streams; the same for accepted and dialled sockets. */
const streamHandlers: Omit<BunSocketHandler, "open"> = {
  data(socket, chunk) {
    const state = socket.data;
    const controller = state.readController;
    if (controller === null) return;
    // Bun hands over a fresh Buffer; payloads are delivered as views into the chunk, and must be
    // plain Uint8Arrays there as on the other runtimes (a Buffer's `subarray` makes Buffers). The
    // chunk becomes one: a new view would need its `.buffer`, which JavaScriptCore materialises
    // on first access (a twentieth of the CPU of a 32 B echo).
    Object.setPrototypeOf(chunk, Uint8Array.prototype);
    controller.enqueue(chunk);
    if ((controller.desiredSize ?? 1) <= 0 && !state.paused) {
      // Nobody is reading: stop reading from the kernel, so TCP pushes back on the peer.
      state.paused = true;
      socket.pause();
    }
  },
  drain(socket) {
    const state = socket.data;
    const pending = state.pendingWrite;
    if (pending === null) return;
    const written = socket.write(pending);
    if (written < 0) return failWrite(state, new Error("socket closed"));
    if (written < pending.length) {
      state.pendingWrite = pending.subarray(written);
      return;
    }
    const resolve = state.resolveWrite;
    state.pendingWrite = null;
    state.resolveWrite = null;
    state.rejectWrite = null;
    resolve?.();
  },
  end(socket) {
    // The peer will send nothing more.
    if (socket.data !== undefined) endReadable(socket.data);
  },
  close(socket, error) {
    const state = socket.data;
    if (state === undefined) return; // closed before it opened (a failed TLS handshake)
    state.ended = true;
    state.settleHandshake?.(false);
    // The error (and its stack) only for a write still waiting: most sockets close with none.
    if (state.rejectWrite !== null) failWrite(state, error ?? new Error("socket closed"));
    endReadable(state, error);
  },
  error(socket, error) {
    const state = socket.data;
    if (state === undefined) return;
    failWrite(state, error);
    endReadable(state, error);
  },
};

/** Listens with `Bun.listen`, with `tls` when a certificate is given; `reusePort` on Linux only. */
export const listenBun: ListenFunction = (options, onAccept) => {
  const reusePort = options.reusePort === true;
  if (reusePort && process.platform !== "linux") {
    // Elsewhere the kernel does not spread connections over the sockets sharing a port (and
    // Windows has no SO_REUSEPORT), so listening anyway would not do what was asked.
    throw new Error(
      `reusePort (SO_REUSEPORT) is supported on Linux only, not on ${process.platform}`,
    );
  }
  let listener: BunListener;
  // Reported under the address asked for; the port is known once listening.
  let limit = new DescriptorLimitReport(options.hostname, options.port);
  try {
    listener = bun().listen({
      hostname: options.hostname,
      port: options.port,
      tls: options.tls === undefined ? undefined : { cert: options.tls.cert, key: options.tls.key },
      reusePort,
      socket: {
        open(socket) {
          if (atDescriptorLimit()) {
            // This socket took the last descriptor: refuse it, and so keep one free, with which
            // Bun accepts (and this refuses) each connection that comes while none can be served.
            // (Bun reports nothing when its accept fails for want of one, and retries it at once,
            // forever: uSockets' event loop would spin at 100% CPU while connections wait.)
            limit.reached();
            socket.terminate();
            return;
          }
          limit.recovered();
          // With TLS, `open` comes once TCP is accepted, before the TLS handshake (`handshake`
          // says when that is over), so the server's handshake timer covers the TLS handshake.
          socket.setNoDelay(true);
          const local = { hostname: options.hostname, port: listener.port };
          onAccept(bunTransport(socket, local, options.tls !== undefined));
        },
        handshake(socket, success) {
          // `authorizationError` is about the client's certificate, which a server does not ask
          // for: only `success` matters. A failed handshake is followed by `close`.
          socket.data?.settleHandshake?.(success);
        },
        ...streamHandlers,
      },
    });
  } catch (error) {
    // Bun says only "Failed to listen at <host>": no port, and the reason only in `code`.
    let kind = bunKind(error);
    // A name that does not resolve is the one failure Bun gives no code for.
    if (kind === undefined && !hasCode(error) && isIP(options.hostname) === 0) kind = "unresolved";
    throw listenError(options.hostname, options.port, kind, error);
  }
  limit = new DescriptorLimitReport(listener.hostname, listener.port);
  let open = true;
  return {
    address: { hostname: listener.hostname, port: listener.port },
    close() {
      if (!open) return;
      open = false;
      // Only the listening socket: accepted connections stay up for a graceful shutdown.
      listener.stop(false);
    },
  };
};

/** Connects with `Bun.connect`, with `tls` when asked; resolves once TLS (if any) is verified. */
export const dialBun: DialFunction = (options) =>
  new Promise<Transport>((resolve, reject) => {
    const tls = options.tls;
    const serverName = tls?.serverName ?? options.hostname;
    let connected = false;
    const opened = (socket: BunSocket) => resolve(bunTransport(socket, { hostname: "", port: 0 }));
    // Bun says "Failed to connect" for a refused connection: the reason is only in `code`.
    const fail = (error: Error) => {
      const where = {
        hostname: options.hostname,
        port: options.port,
        tls: connected && tls !== undefined,
        serverName,
      };
      reject(new DialFailure(dialReason(bunKind(error), error, where), error));
    };
    bun().connect({
      hostname: options.hostname,
      port: options.port,
      tls: tls === undefined ? undefined : {
        ca: tls.caCerts,
        serverName,
        rejectUnauthorized: true,
      },
      socket: {
        ...streamHandlers,
        open(socket) {
          // With TLS too, `open` comes once TCP is up, before the TLS handshake.
          connected = true;
          options.onConnected?.();
          socket.setNoDelay(true);
          if (tls === undefined) opened(socket);
        },
        handshake(socket, success, authorizationError) {
          if (success && authorizationError === null) return opened(socket);
          // Reject first: terminating calls `close`, which would reject with a vaguer reason.
          fail(authorizationError ?? new Error("TLS handshake failed"));
          socket.terminate();
        },
        close(socket, error) {
          if (socket.data === undefined) fail(error ?? new Error("the connection closed"));
          else streamHandlers.close(socket, error);
        },
      },
    }).catch(fail);
  });

/** Sorts a Bun error into a {@link NetFailureKind}: Bun's errors carry Node's codes and messages. */
function bunKind(error: unknown): NetFailureKind | undefined {
  return kindOfNodeError(error);
}

function hasCode(error: unknown): boolean {
  return typeof (error as { code?: unknown } | null)?.code === "string";
}

/**
 * Wraps a Bun socket in a pair of Web Streams; `tls` for a socket accepted by a TLS listener whose
 * handshake is still to come (it gets a `tlsHandshake`).
 */
function bunTransport(socket: BunSocket, local: NetAddress, tls = false): Transport {
  const state: SocketState = {
    readController: null,
    pendingWrite: null,
    resolveWrite: null,
    rejectWrite: null,
    paused: false,
    ended: false,
    settleHandshake: null,
  };
  socket.data = state;
  let tlsHandshake: Promise<void> | undefined;
  if (tls) {
    tlsHandshake = new Promise<void>((resolve, reject) => {
      state.settleHandshake = (success) => {
        state.settleHandshake = null;
        if (success) resolve();
        else reject(new Error("the TLS handshake did not complete"));
      };
    });
    tlsHandshake.catch(() => {
      // The server only checks whether it resolved; a failure also closes the socket.
    });
  }
  let localAddress: NetAddress | undefined;
  return {
    readable: new ReadableStream<Uint8Array>(new SocketSource(socket)),
    writable: new WritableStream<Uint8Array>(new SocketSink(socket)),
    // Each of Bun's address getters asks the kernel (about 2 µs apiece): the peer's address is
    // read now, since Bun forgets it once the socket closes and an application may ask then; the
    // local one, which only an adapter asks for, when asked.
    remoteAddress: { hostname: socket.remoteAddress, port: socket.remotePort ?? 0 },
    get localAddress(): NetAddress {
      return localAddress ??= {
        hostname: socket.localAddress ?? local.hostname,
        port: socket.localPort ?? local.port,
      };
    },
    tlsHandshake,
    closeWrite() {
      // Bun has no safe half-close here: `shutdown(true)` drops bytes that `write` reported as
      // written but Bun still buffers, so this flushes and closes both directions, as `end()`
      // does. (See the README's runtime differences.)
      if (!state.ended) socket.end();
    },
    drop() {
      if (!state.ended) socket.terminate();
    },
  };
}

// The streams' underlying source and sink are classes rather than object literals: their methods
// live on the prototype, so an idle connection holds two small objects instead of six closures.

/** Bun's reads, as a ReadableStream's source: pauses the socket while nobody reads. */
class SocketSource implements UnderlyingDefaultSource<Uint8Array> {
  readonly #socket: BunSocket;

  constructor(socket: BunSocket) {
    this.#socket = socket;
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#socket.data.readController = controller;
  }

  pull(): void {
    const state = this.#socket.data;
    if (state.paused) {
      state.paused = false;
      this.#socket.resume();
    }
  }

  cancel(): void {
    this.#socket.data.readController = null;
    this.#socket.terminate();
  }
}

/** Bun's writes, as a WritableStream's sink: a write resolves once Bun has taken every byte. */
class SocketSink implements UnderlyingSink<Uint8Array> {
  readonly #socket: BunSocket;

  constructor(socket: BunSocket) {
    this.#socket = socket;
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    const state = this.#socket.data;
    if (state.ended) throw new Error("socket closed");
    const written = this.#socket.write(chunk);
    if (written === chunk.length) return;
    if (written < 0) throw new Error("socket closed");
    // The socket took part of it (or none): keep the rest until Bun says it can take more.
    return new Promise<void>((resolve, reject) => {
      state.pendingWrite = chunk.subarray(written);
      state.resolveWrite = resolve;
      state.rejectWrite = reject;
    });
  }

  close(): void {
    this.#socket.end();
  }

  abort(): void {
    this.#socket.terminate();
  }
}

function failWrite(state: SocketState, error: Error): void {
  const reject = state.rejectWrite;
  state.pendingWrite = null;
  state.resolveWrite = null;
  state.rejectWrite = null;
  reject?.(error);
}

function endReadable(state: SocketState, error?: Error): void {
  const controller = state.readController;
  if (controller === null) return;
  state.readController = null;
  try {
    if (error === undefined) controller.close();
    else controller.error(error);
  } catch {
    // The stream was already cancelled.
  }
}

/**
 * A node:net socket (plain TCP, or a TLSSocket) as a {@link Transport}: the Node adapter's
 * sockets, and the TLS sockets that tls_accept.ts runs over Deno's TCP connections. The streams
 * are built here by hand (`Duplex.toWeb` is much slower): reads go into a ReadableStream that
 * pauses the socket when nobody reads, as the Bun adapter's does; writes resolve once the socket
 * has taken the bytes.
 *
 * Per socket there are objects, not closures: the stream's source and sink are classes, and the
 * socket's event listeners are shared by every socket (an emitter calls them with itself as
 * `this`, and the socket carries its state), so an idle connection costs as little as it can.
 * @module
 */

import type { Socket } from "node:net";
import type { NetAddress, Transport } from "../transport.ts";
import { WRITE_STRATEGY } from "./write_strategy.ts";

/** How a socket's writes are handed over; see {@link socketTransport}. */
export type WriteMode = "tcp" | "tls";

/** Where a socket keeps its {@link SocketStreams}. */
const STREAMS: unique symbol = Symbol("edgews.socketStreams");

type StreamSocket = Socket & { [STREAMS]?: SocketStreams };

/**
 * Wraps `socket`. Writes, by `mode`:
 * - `"tcp"`: the chunk itself is written. Most writes go straight to the kernel (libuv tries a
 *   write at once), and then resolve at once; a write the kernel took only part of resolves when
 *   the socket's callback says the rest went too, since until then the socket still reads the
 *   caller's buffer (which the caller reuses once the write resolves).
 * - `"tls"`: a copy is written, and the write resolves at once while the socket's buffer has room
 *   (or at its next `drain`). A TLS socket completes each write only once the encrypted bytes are
 *   out, and waiting for that measured slower than copying.
 */
export function socketTransport(
  socket: Socket,
  remoteAddress: NetAddress,
  localAddress: NetAddress,
  mode: WriteMode,
): Transport {
  const streams = new SocketStreams(socket, mode);
  (socket as StreamSocket)[STREAMS] = streams;
  socket.on("data", onData);
  socket.on("end", onEnd);
  // A reset, or a failed TLS handshake: the readable ends with the error, which readers treat as
  // a closed connection. Without this listener the error would be thrown as uncaught.
  socket.on("error", onError);
  socket.on("close", onClose);
  if (mode === "tls") socket.on("drain", onDrain);
  return new SocketTransport(streams, remoteAddress, localAddress);
}

class SocketTransport implements Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly remoteAddress: NetAddress;
  readonly localAddress: NetAddress;
  readonly #socket: Socket;

  constructor(streams: SocketStreams, remoteAddress: NetAddress, localAddress: NetAddress) {
    this.#socket = streams.socket;
    this.readable = new ReadableStream<Uint8Array>(streams);
    this.writable = new WritableStream<Uint8Array>(new SocketSink(streams), WRITE_STRATEGY);
    this.remoteAddress = remoteAddress;
    this.localAddress = localAddress;
  }

  closeWrite(): void {
    this.#socket.end();
  }

  drop(): void {
    this.#socket.destroy();
  }
}

/** A socket's read side as a stream source, and the state its writes share with its events. */
class SocketStreams implements UnderlyingDefaultSource<Uint8Array> {
  readonly socket: Socket;
  readonly mode: WriteMode;
  controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  paused = false;
  // Writes issued and completed, counted so that one callback serves every write: the callbacks
  // come in order, and at most one write waits (a WritableStream writes one at a time).
  issued = 0;
  completed = 0;
  waiting: { upTo: number; resolve: () => void; reject: (error: Error) => void } | null = null;
  /** The write callback, made with the first write. */
  #onWritten: ((error?: Error | null) => void) | null = null;

  constructor(socket: Socket, mode: WriteMode) {
    this.socket = socket;
    this.mode = mode;
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller;
  }

  pull(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  cancel(): void {
    this.controller = null;
    this.socket.destroy();
  }

  get onWritten(): (error?: Error | null) => void {
    return this.#onWritten ??= (error) => {
      this.completed++;
      this.settleWrite(error);
    };
  }

  settleWrite(error?: Error | null): void {
    const current = this.waiting;
    if (current === null) return;
    if (error) {
      this.waiting = null;
      current.reject(error);
    } else if (this.completed >= current.upTo) {
      this.waiting = null;
      current.resolve();
    }
  }

  endReadable(error?: Error): void {
    const current = this.controller;
    if (current === null) return;
    this.controller = null;
    try {
      if (error === undefined) current.close();
      else current.error(error);
    } catch {
      // Cancelled meanwhile.
    }
  }
}

/** A socket's write side as a stream sink. */
class SocketSink implements UnderlyingSink<Uint8Array> {
  readonly #streams: SocketStreams;

  constructor(streams: SocketStreams) {
    this.#streams = streams;
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    const streams = this.#streams;
    const socket = streams.socket;
    if (socket.destroyed) throw new Error("socket closed");
    if (streams.mode === "tls") {
      if (socket.write(chunk.slice())) return;
      return new Promise<void>((resolve, reject) => streams.waiting = { upTo: 0, resolve, reject });
    }
    const upTo = ++streams.issued;
    socket.write(chunk, streams.onWritten);
    // Nothing left in the socket's buffer: the kernel took every byte already.
    if (socket.writableLength === 0) return;
    return new Promise<void>((resolve, reject) => streams.waiting = { upTo, resolve, reject });
  }

  close(): Promise<void> | undefined {
    // The whole socket, as closing a Deno connection's writable does: FIN (and for TLS
    // close_notify) after what was written, then the socket is released.
    const socket = this.#streams.socket;
    if (socket.destroyed) return;
    return new Promise<void>((resolve) => {
      socket.once("close", resolve);
      socket.end(() => socket.destroy());
    });
  }

  abort(): void {
    this.#streams.socket.destroy();
  }
}

function streamsOf(socket: Socket): SocketStreams {
  return (socket as StreamSocket)[STREAMS]!;
}

function onData(this: Socket, chunk: Uint8Array): void {
  const streams = streamsOf(this);
  const controller = streams.controller;
  if (controller === null) return;
  // A plain Uint8Array view: a Buffer's `slice` shares memory where a Uint8Array's copies.
  controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  if ((controller.desiredSize ?? 1) <= 0 && !streams.paused) {
    // Nobody is reading: stop reading, so TCP pushes back on the peer.
    streams.paused = true;
    this.pause();
  }
}

function onEnd(this: Socket): void {
  streamsOf(this).endReadable();
}

function onError(this: Socket, error: Error): void {
  streamsOf(this).endReadable(error);
}

function onClose(this: Socket): void {
  const streams = streamsOf(this);
  streams.endReadable();
  // The error (and its stack) only for a write still waiting: most sockets close with none.
  if (streams.waiting !== null) streams.settleWrite(new Error("socket closed"));
}

function onDrain(this: Socket): void {
  streamsOf(this).settleWrite();
}

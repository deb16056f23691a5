/**
 * A node:net socket (plain TCP, or a TLSSocket) as a {@link Transport}: the Node adapter's
 * sockets, and the TLS sockets that tls_accept.ts runs over Deno's TCP connections. The streams
 * are built here by hand (`Duplex.toWeb` is much slower): reads go into a ReadableStream that
 * pauses the socket when nobody reads, as the Bun adapter's does; writes resolve once the socket
 * has taken the bytes.
 * @module
 */

import type { Socket } from "node:net";
import type { NetAddress, Transport } from "../transport.ts";

/** How a socket's writes are handed over; see {@link socketTransport}. */
export type WriteMode = "tcp" | "tls";

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
  let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  let paused = false;
  // Writes issued and completed, counted so that one shared callback serves every write: the
  // callbacks come in order, and at most one write waits (a WritableStream writes one at a time).
  let issued = 0;
  let completed = 0;
  let waiting: { upTo: number; resolve: () => void; reject: (error: Error) => void } | null = null;
  const settleWrite = (error?: Error | null) => {
    const current = waiting;
    if (current === null) return;
    if (error) {
      waiting = null;
      current.reject(error);
    } else if (completed >= current.upTo) {
      waiting = null;
      current.resolve();
    }
  };
  const onWritten = (error?: Error | null) => {
    completed++;
    settleWrite(error);
  };
  const endReadable = (error?: Error) => {
    const current = controller;
    if (current === null) return;
    controller = null;
    try {
      if (error === undefined) current.close();
      else current.error(error);
    } catch {
      // Cancelled meanwhile.
    }
  };

  const readable = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      if (paused) {
        paused = false;
        socket.resume();
      }
    },
    cancel() {
      controller = null;
      socket.destroy();
    },
  });
  socket.on("data", (chunk: Uint8Array) => {
    const current = controller;
    if (current === null) return;
    // A plain Uint8Array view: a Buffer's `slice` shares memory where a Uint8Array's copies.
    current.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if ((current.desiredSize ?? 1) <= 0 && !paused) {
      // Nobody is reading: stop reading, so TCP pushes back on the peer.
      paused = true;
      socket.pause();
    }
  });
  socket.on("end", () => endReadable());
  // A reset, or a failed TLS handshake: the readable ends with the error, which readers treat as
  // a closed connection. Without this listener the error would be thrown as uncaught.
  socket.on("error", (error: Error) => endReadable(error));
  socket.on("close", () => {
    endReadable();
    settleWrite(new Error("socket closed"));
  });
  if (mode === "tls") socket.on("drain", () => settleWrite());

  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (socket.destroyed) throw new Error("socket closed");
      if (mode === "tls") {
        if (socket.write(chunk.slice())) return;
        return new Promise<void>((resolve, reject) => waiting = { upTo: 0, resolve, reject });
      }
      const upTo = ++issued;
      socket.write(chunk, onWritten);
      // Nothing left in the socket's buffer: the kernel took every byte already.
      if (socket.writableLength === 0) return;
      return new Promise<void>((resolve, reject) => waiting = { upTo, resolve, reject });
    },
    close() {
      // The whole socket, as closing a Deno connection's writable does: FIN (and for TLS
      // close_notify) after what was written, then the socket is released.
      if (socket.destroyed) return;
      return new Promise<void>((resolve) => {
        socket.once("close", resolve);
        socket.end(() => socket.destroy());
      });
    },
    abort() {
      socket.destroy();
    },
  });

  return {
    readable,
    writable,
    remoteAddress,
    localAddress,
    closeWrite() {
      socket.end();
    },
  };
}

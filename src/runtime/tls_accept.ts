/**
 * Server-side TLS over an accepted plain TCP {@link Transport}, with node:tls. The Deno adapter
 * uses it instead of `Deno.listenTls`: a `Deno.TlsConn` that is still in its TLS handshake cannot
 * be closed (closing it waits for the handshake to finish, and a client that sends nothing never
 * lets it), so a silent or stalled client would hold its socket for as long as it likes. Here the
 * TCP socket stays ours: dropping the transport closes it at any point of the handshake.
 * @module
 */

import { Duplex } from "node:stream";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import type { TlsCertificate, Transport } from "../transport.ts";

/** The certificate and key, parsed once per listener; throws when they are not usable. */
export function tlsContext(certificate: TlsCertificate): SecureContext {
  return createSecureContext({ cert: certificate.cert, key: certificate.key });
}

/**
 * Starts the server side of a TLS handshake on `tcp` and returns the TLS transport at once, before
 * the handshake: its `tlsHandshake` settles when the handshake is over. A failed handshake (bytes
 * that are not TLS, an unknown version, a client that hangs up) closes the socket and ends
 * `readable`, as any closed connection does.
 */
export function acceptTls(tcp: Transport, context: SecureContext): Transport {
  const socket = new TLSSocket(duplexOver(tcp), { isServer: true, secureContext: context });
  const tlsHandshake = new Promise<void>((resolve, reject) => {
    socket.once("secure", resolve);
    // After "secure" this rejects nothing: a promise settles once.
    socket.once("close", () => reject(new Error("the TLS handshake did not complete")));
  });
  tlsHandshake.catch(() => {
    // The server only checks whether it resolved; a failure ends `readable` too.
  });
  const transport = socketTransport(socket, tcp);
  transport.tlsHandshake = tlsHandshake;
  return transport;
}

/**
 * A node Duplex over a transport's Web Streams, for TLSSocket to read and write the TCP bytes.
 * Ending it half-closes the TCP socket; destroying it closes the socket.
 */
function duplexOver(tcp: Transport): Duplex {
  const reader = tcp.readable.getReader();
  const writer = tcp.writable.getWriter();
  return new Duplex({
    read() {
      reader.read().then(
        ({ done, value }) => this.push(done ? null : value),
        (error) => this.destroy(error),
      );
    },
    write(chunk: Uint8Array, _encoding, callback) {
      writer.write(chunk).then(() => callback(), callback);
    },
    final(callback) {
      // Every write has completed before `final`: FIN now, and read on until the peer closes.
      tcp.closeWrite();
      callback();
    },
    destroy(error, callback) {
      writer.abort().catch(() => {
        // Already closed.
      });
      reader.cancel().catch(() => {
        // Already closed.
      });
      callback(error);
    },
  });
}

/**
 * A TLS socket (a node Duplex) as a {@link Transport}: reads pause the socket when nobody reads, as
 * the Bun adapter's do; a write resolves at once while the socket's buffer has room, or at its
 * next `drain`.
 */
function socketTransport(socket: TLSSocket, tcp: Transport): Transport {
  let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  let paused = false;
  let waitingWrite: { resolve: () => void; reject: (error: Error) => void } | null = null;
  const settleWrite = (error?: Error) => {
    const waiting = waitingWrite;
    waitingWrite = null;
    if (error === undefined) waiting?.resolve();
    else waiting?.reject(error);
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
    current.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if ((current.desiredSize ?? 1) <= 0 && !paused) {
      // Nobody is reading: stop reading, so TCP pushes back on the peer.
      paused = true;
      socket.pause();
    }
  });
  socket.on("end", () => endReadable());
  // A failed handshake or a reset: the readable ends with the error, which readers treat as a
  // closed connection. Without this listener the error would be thrown as uncaught.
  socket.on("error", (error: Error) => endReadable(error));
  socket.on("close", () => {
    endReadable();
    settleWrite(new Error("socket closed"));
  });
  socket.on("drain", () => settleWrite());
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (socket.destroyed) throw new Error("socket closed");
      // A copy: the socket may keep the chunk until it encrypts it, and the caller reuses its
      // buffers once the write resolves. (Waiting for each write's callback instead would
      // serialise the writes on the TCP socket's, which measured slower.)
      if (socket.write(chunk.slice())) return;
      return new Promise<void>((resolve, reject) => waitingWrite = { resolve, reject });
    },
    close() {
      // The whole socket, as closing a plain transport's writable does: close_notify and FIN
      // after what was written, then the socket is released.
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
    remoteAddress: tcp.remoteAddress,
    localAddress: tcp.localAddress,
    closeWrite() {
      socket.end();
    },
  };
}

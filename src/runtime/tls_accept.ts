/**
 * Server-side TLS over an accepted TCP socket, with node:tls: for the Node adapter over its
 * node:net sockets, and for the Deno adapter over a plain TCP {@link Transport}. Deno uses it instead of `Deno.listenTls`: a `Deno.TlsConn` that is still in its TLS handshake cannot
 * be closed (closing it waits for the handshake to finish, and a client that sends nothing never
 * lets it), so a silent or stalled client would hold its socket for as long as it likes. Here the
 * TCP socket stays ours: dropping the transport closes it at any point of the handshake.
 * @module
 */

import { Duplex } from "node:stream";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import type { NetAddress, TlsCertificate, Transport } from "../transport.ts";
import { socketTransport } from "./node_socket.ts";

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
  return startServerTls(duplexOver(tcp), context, tcp.remoteAddress, tcp.localAddress);
}

/**
 * The server side of a TLS handshake over `stream` (a node:net socket, or any Duplex of the TCP
 * bytes), as {@link acceptTls} describes; `remote` and `local` are the TCP socket's addresses.
 */
export function startServerTls(
  stream: Duplex,
  context: SecureContext,
  remote: NetAddress,
  local: NetAddress,
): Transport {
  const socket = new TLSSocket(stream, { isServer: true, secureContext: context });
  const tlsHandshake = new Promise<void>((resolve, reject) => {
    socket.once("secure", resolve);
    // After "secure" this rejects nothing: a promise settles once.
    socket.once("close", () => reject(new Error("the TLS handshake did not complete")));
  });
  tlsHandshake.catch(() => {
    // The server only checks whether it resolved; a failure ends `readable` too.
  });
  const transport = socketTransport(socket, remote, local, "tls");
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
      tcp.drop();
      callback(error);
    },
  });
}

/**
 * The Deno adapter: `Deno.listen` / `Deno.listenTls` connections as {@link Transport}s. Deno's
 * sockets already speak Web Streams, so this is little more than address bookkeeping.
 * @module
 */

import type { DialFunction, ListenFunction, NetAddress, Transport } from "../transport.ts";

/**
 * Listens with `Deno.listen`, or `Deno.listenTls` when a certificate is given. `reusePort` needs
 * Linux and Deno's `--unstable-net` flag; without either it throws.
 */
export const listenDeno: ListenFunction = (options, onAccept) => {
  const reusePort = options.reusePort === true;
  if (reusePort) checkReusePort();
  const listener = options.tls === undefined
    ? Deno.listen({ hostname: options.hostname, port: options.port, transport: "tcp", reusePort })
    : Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.tls.cert,
      key: options.tls.key,
      reusePort,
    });
  let open = true;
  (async () => {
    while (open) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (!open || error instanceof Deno.errors.BadResource) return;
        // Out of file descriptors, a reset during accept, a failed TLS handshake: keep serving.
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      onAccept(denoTransport(conn));
    }
  })();
  return {
    address: netAddress(listener.addr),
    close() {
      if (!open) return;
      open = false;
      listener.close();
    },
  };
};

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
  const tcp = await Deno.connect({ hostname: options.hostname, port: options.port });
  if (options.tls === undefined) return denoTransport(tcp);
  try {
    const tls = await Deno.startTls(tcp, {
      hostname: options.tls.serverName ?? options.hostname,
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
    throw error;
  }
};

/** Wraps a Deno connection (TCP or TLS). */
export function denoTransport(conn: Deno.Conn): Transport {
  if ("setNoDelay" in conn) {
    // WebSocket frames are small and latency-sensitive; the sender already batches writes.
    (conn as Deno.TcpConn).setNoDelay(true);
  }
  return {
    readable: conn.readable,
    writable: conn.writable,
    remoteAddress: netAddress(conn.remoteAddr),
    localAddress: netAddress(conn.localAddr),
    closeWrite() {
      conn.closeWrite().catch(() => {
        // Already closed: nothing left to half-close.
      });
    },
  };
}

function netAddress(addr: Deno.Addr): NetAddress {
  return addr.transport === "tcp" || addr.transport === "udp"
    ? { hostname: addr.hostname, port: addr.port }
    : { hostname: "", port: 0 };
}

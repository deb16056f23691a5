/**
 * The Node adapter: node:net sockets as {@link Transport}s (node_socket.ts builds the streams),
 * with node:tls on top for `wss://`. A TLS listener is a plain net.Server whose sockets start
 * their TLS handshake as they are accepted (tls_accept.ts, as on Deno), so the server's handshake
 * timer runs from TCP accept and can close a socket whose handshake never completes.
 * @module
 */

import { spawnSync } from "node:child_process";
import { tracingChannel } from "node:diagnostics_channel";
import { connect as connectTcp, createServer, isIP, type Server, type Socket } from "node:net";
import process from "node:process";
import {
  connect as connectTls,
  createSecureContext,
  rootCertificates,
  type SecureContext,
} from "node:tls";
import type { DialFunction, ListenFunction, NetAddress, Transport } from "../transport.ts";
import { DialFailure } from "../errors.ts";
import { dialReason, kindOfNodeError, listenError } from "./net_errors.ts";
import { atDescriptorLimit, DescriptorLimitReport } from "./descriptor_limit.ts";
import { socketTransport } from "./node_socket.ts";
import { startServerTls, tlsContext } from "./tls_accept.ts";

/**
 * libuv's `UV_TCP_REUSEPORT` bind flag (uv.h), which `net.Server.listen({ reusePort })` passes
 * down; {@link bindNow} has to pass it itself.
 */
const UV_TCP_REUSEPORT = 2;

/** The `net.Server` internals {@link bindNow} uses. */
interface BindableServer extends Server {
  _listen2?(
    address: string,
    port: number,
    addressType: number,
    backlog: number,
    fd: undefined,
    flags: number,
  ): void;
}

/** What net.Server publishes when a bind or listen fails (diagnostics_channel). */
interface ListenErrorMessage {
  server: Server;
  error: Error;
}

const listenTracing = tracingChannel("net.server.listen");

/**
 * Listens with a `net.Server`; `reusePort` on Linux only, as on the other runtimes. Sockets are
 * not `allowHalfOpen`: once the peer's FIN has been read, the socket closes after what was
 * written, as a Deno connection (whose readable closes it at its end) and a Bun socket do.
 */
export const listenNode: ListenFunction = (options, onAccept) => {
  const reusePort = options.reusePort === true;
  if (reusePort && process.platform !== "linux") {
    // Elsewhere the kernel does not spread connections over the sockets sharing a port.
    throw new Error(
      `reusePort (SO_REUSEPORT) is supported on Linux only, not on ${process.platform}`,
    );
  }
  const server = createServer({ noDelay: true });
  // The certificate first: one that cannot be used fails here, before the port is taken.
  let context;
  try {
    context = options.tls === undefined ? undefined : tlsContext(options.tls);
  } catch (error) {
    throw listenError(options.hostname, options.port, undefined, error);
  }
  bindNow(server, options.hostname, options.port, reusePort);
  const bound = server.address();
  if (bound === null || typeof bound === "string") throw new Error("listening without an address");
  const local = { hostname: bound.address, port: bound.port };
  // Out of descriptors, libuv refuses (resets) the connections that do not fit by itself, keeping
  // a spare descriptor for the purpose, and tells nobody. So a connection that took the last one
  // is what says the limit is reached: warned about once per episode, as on the other runtimes.
  const limit = new DescriptorLimitReport(local.hostname, local.port);
  server.on("connection", (socket: Socket) => {
    if (atDescriptorLimit()) limit.reached();
    else limit.recovered();
    const remote = remoteOf(socket);
    onAccept(
      context === undefined
        ? socketTransport(socket, remote, local, "tcp")
        : startServerTls(socket, context, remote, local),
    );
  });
  let open = true;
  return {
    address: local,
    close() {
      if (!open) return;
      open = false;
      // Only the listening socket: accepted connections stay up for a graceful shutdown.
      server.close();
    },
  };
};

/**
 * Binds and listens before returning, or throws why not, worded as on the other runtimes.
 * `server.listen()` does neither: it looks the host up (even an IP address) and reports failure
 * by an `error` event, later. So a host name is resolved here (synchronously, see
 * {@link resolveNow}), and the bind goes through `_listen2`, the step that `listen()` takes once
 * it has an address, which binds at once and publishes a failure on the `net.server.listen`
 * diagnostics channel at once (the `error` event follows on the next tick).
 */
function bindNow(server: BindableServer, hostname: string, port: number, reusePort: boolean): void {
  if (typeof server._listen2 !== "function") {
    throw new Error("this version of Node has no net.Server._listen2, which edgews binds with");
  }
  let address = hostname;
  let family = isIP(hostname);
  if (family === 0) {
    const resolved = resolveNow(hostname);
    if ("error" in resolved) throw listenError(hostname, port, "unresolved", resolved.error);
    address = resolved.address;
    family = resolved.family;
  }
  let failure: Error | undefined;
  const onError = (message: unknown) => {
    const { server: failed, error } = message as ListenErrorMessage;
    if (failed === server) failure = error;
  };
  // The `error` event: one after a failed bind repeats what is thrown below; accept errors (out
  // of file descriptors, ...) are libuv's to retry. Neither may end the process.
  server.on("error", () => {});
  listenTracing.error.subscribe(onError);
  try {
    server._listen2(address, port, family, 511, undefined, reusePort ? UV_TCP_REUSEPORT : 0);
  } finally {
    listenTracing.error.unsubscribe(onError);
  }
  if (failure !== undefined || !server.listening) {
    const cause = failure ?? new Error("listen failed");
    throw listenError(hostname, port, kindOfNodeError(cause), cause);
  }
}

/**
 * Resolves a host name before `serve()` returns. Node has no synchronous name lookup, so a child
 * Node does `dns.lookup` (the resolver `listen()` uses) and prints the answer; this happens once
 * per server, and only for a name (an IP address needs no lookup).
 */
function resolveNow(hostname: string): { address: string; family: number } | { error: Error } {
  const script = "require('node:dns').lookup(process.argv[1], (error, address, family) => " +
    "console.log(JSON.stringify(error ? { code: error.code, message: error.message } : " +
    "{ address, family })))";
  const child = spawnSync(process.execPath, ["-e", script, hostname], {
    encoding: "utf8",
    timeout: 30_000,
  });
  try {
    const answer = JSON.parse(child.stdout);
    if (typeof answer.address === "string") return answer;
    return { error: Object.assign(new Error(answer.message), { code: answer.code }) };
  } catch {
    return { error: child.error ?? new Error(`could not look up ${hostname}: ${child.stderr}`) };
  }
}

/**
 * Connects with `net.connect`, then `tls.connect` over it for TLS, which lets the name verified
 * (and sent as SNI) differ from the address dialled; resolves once TLS (if any) is verified.
 */
export const dialNode: DialFunction = (options) =>
  new Promise<Transport>((resolve, reject) => {
    const tls = options.tls;
    const serverName = tls?.serverName ?? options.hostname;
    const where = { hostname: options.hostname, port: options.port, tls: false, serverName };
    const fail = (error: Error) => {
      reject(new DialFailure(dialReason(kindOfNodeError(error), error, where), error));
    };
    const tcp = connectTcp({ host: options.hostname, port: options.port, noDelay: true });
    tcp.once("error", fail);
    tcp.once("connect", () => {
      tcp.off("error", fail);
      options.onConnected?.();
      if (tls === undefined) {
        resolve(socketTransport(tcp, remoteOf(tcp), localOf(tcp), "tcp"));
        return;
      }
      where.tls = true;
      // From here on errors come to the TLS socket; the TCP one's would be reported twice.
      tcp.on("error", () => {});
      const secure = connectTls({
        socket: tcp,
        // The name the certificate must be valid for; SNI only for a name (RFC 6066).
        host: serverName,
        servername: isIP(serverName) === 0 ? serverName : undefined,
        secureContext: tls.caCerts === undefined ? undefined : trustingAlso(tls.caCerts),
        rejectUnauthorized: true,
      });
      secure.once("error", (error: Error) => {
        fail(error);
        secure.destroy();
      });
      secure.once("secureConnect", () => {
        secure.removeAllListeners("error");
        resolve(socketTransport(secure, remoteOf(tcp), localOf(tcp), "tls"));
      });
    });
  });

function remoteOf(socket: Socket): NetAddress {
  return { hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
}

function localOf(socket: Socket): NetAddress {
  return { hostname: socket.localAddress ?? "", port: socket.localPort ?? 0 };
}

/** Secure contexts that trust the given roots besides Node's own, by the caller's array. */
const trustContexts = new WeakMap<string[], SecureContext>();

/** A client context trusting `caCerts` as well as the usual roots (`ca` alone would replace them). */
function trustingAlso(caCerts: string[]): SecureContext {
  let context = trustContexts.get(caCerts);
  if (context === undefined) {
    context = createSecureContext({ ca: [...rootCertificates, ...caCerts] });
    trustContexts.set(caCerts, context);
  }
  return context;
}

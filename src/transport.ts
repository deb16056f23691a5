/**
 * The contract between the runtime adapters and everything above them: a connected byte stream
 * as a pair of Web Streams, plus its addresses.
 * @module
 */

/** A host and port, as the runtimes report socket addresses. */
export interface NetAddress {
  /** An IP address (or host name, for addresses given by name). */
  hostname: string;
  /** A TCP port. */
  port: number;
}

/**
 * A connected, ordered, reliable byte stream (TCP or TLS). Closing `writable` closes the whole
 * socket; `drop()` (as does aborting `writable` or cancelling `readable`) closes it at once;
 * `closeWrite()` closes only the sending side.
 */
export interface Transport {
  /**
   * Bytes from the peer, one chunk per read from the socket. Each chunk is the reader's to keep:
   * the adapter never writes into its memory again, so payloads can be handed on as views of it.
   */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer; a write resolves once the socket has taken every byte of it. */
  writable: WritableStream<Uint8Array>;
  /** The peer's address. */
  remoteAddress: NetAddress;
  /** This end's address. */
  localAddress: NetAddress;
  /**
   * Half-closes: sends FIN after what was written, while `readable` goes on until the peer
   * closes. Call it once no write is pending.
   */
  closeWrite(): void;
  /**
   * Closes the socket at once, both ways, whatever it is doing: `readable` ends, a write still
   * waiting fails. Does nothing once the socket is closed. The streams could do the same (abort
   * and cancel), but through more machinery than closing a socket needs, on every connection.
   */
  drop(): void;
  /**
   * For a socket a TLS listener accepted: settles once its TLS handshake is over, resolving when
   * it succeeded and rejecting when it failed. Absent for plain TCP, and for dialled sockets (a
   * dial resolves only after the handshake). Until it resolves nothing written reaches the peer,
   * so the server drops a socket that times out before it instead of answering 408.
   */
  tlsHandshake?: Promise<void>;
}

/** Certificate and key for a TLS listener, PEM-encoded. */
export interface TlsCertificate {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
}

/** What a server asks an adapter to listen on. */
export interface ListenOptions {
  /** The interface to bind. */
  hostname: string;
  /** The port; 0 picks a free one. */
  port: number;
  /** Listen with TLS instead of plain TCP. */
  tls?: TlsCertificate;
  /**
   * Set SO_REUSEPORT, so other processes can listen on the same address and port (Linux only).
   * An adapter that cannot honour it throws rather than listening without it.
   */
  reusePort?: boolean;
}

/** A listening socket, as an adapter returns it. */
export interface Listener {
  /** The bound address (with the real port when 0 was asked for). */
  readonly address: NetAddress;
  /** Stops accepting. Connections already accepted are not affected. */
  close(): void;
}

/** How an adapter listens: it calls `onAccept` with each new connection. */
export type ListenFunction = (
  options: ListenOptions,
  onAccept: (transport: Transport) => void,
) => Listener;

/** TLS settings for a client connection. */
export interface ClientTlsOptions {
  /** Extra trusted root certificates (PEM), e.g. a private CA. */
  caCerts?: string[];
  /** The name to verify the certificate against (and send as SNI), when not the URL's host. */
  serverName?: string;
}

/** Where an adapter connects to. */
export interface DialOptions {
  /** Host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** TCP port. */
  port: number;
  /** Connect with TLS. */
  tls?: ClientTlsOptions;
  /**
   * Called once the TCP connection is established (before TLS, if any), so that a timeout can
   * say which step did not finish.
   */
  onConnected?: () => void;
}

/**
 * How an adapter opens an outgoing connection (TCP, then TLS when asked). It rejects with a
 * `DialFailure` (from errors.ts) that words the reason the same way on every runtime.
 */
export type DialFunction = (options: DialOptions) => Promise<Transport>;

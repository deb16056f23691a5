/**
 * The server: takes connections from a runtime adapter, runs the HTTP side (the upgrade, or the
 * application's `fetch` handler), and hands upgraded sockets to connections ({@link ServerWebSocket}).
 * Knows nothing of Deno or Bun: the adapter is passed in.
 * @module
 */

import { CLOSE_HANDLED, Connection } from "./connection/connection.ts";
import {
  type ConnectionOptions,
  resolveConnectionOptions,
} from "./connection/connection_options.ts";
import type { ServerWebSocket, WebSocketHandler } from "./connection/websocket.ts";
import type { RateLimit } from "./connection/rate_limit.ts";
import type { Backplane } from "./backplane.ts";
import type { SendData } from "./connection/message_frame.ts";
import { CloseCode } from "./protocol/close_codes.ts";
import {
  type HttpError,
  isPlausibleRequestStart,
  parseRequestHead,
  type RequestHead,
} from "./handshake/http_head.ts";
import { errorResponse, serializeFetchResponse } from "./handshake/http_response.ts";
import { readHead } from "./connection/read_head.ts";
import { concatBytes, ignore } from "./protocol/bytes.ts";
import {
  acceptResponse,
  isWebSocketUpgrade,
  selectSubprotocol,
  validateUpgradeRequest,
} from "./handshake/server_handshake.ts";
import type {
  Listener,
  ListenFunction,
  NetAddress,
  TlsCertificate,
  Transport,
} from "./transport.ts";
import { TopicRegistry } from "./connection/topics.ts";
import {
  negotiateServer,
  type PerMessageDeflateOptions,
  resolveDeflateOptions,
} from "./handshake/permessage_deflate.ts";
import { checkServeOptions } from "./options.ts";

/** What the `upgrade` hook learns besides the request. */
export interface UpgradeInfo {
  /** The client's address. */
  remoteAddress: NetAddress;
  /** The subprotocols the client offered, in its order of preference. */
  protocols: string[];
}

/** How the `upgrade` hook accepts a connection. */
export interface UpgradeOptions<T> {
  /**
   * The subprotocol to answer with: one of `UpgradeInfo.protocols`, or null for none. When left
   * out, the server's `protocols` option decides.
   */
  protocol?: string | null;
  /** Per-connection data, available as `ws.data`. */
  data?: T;
  /** Extra headers for the 101 response, such as `Set-Cookie`. */
  headers?: HeadersInit;
}

/** What the `upgrade` hook returns: a `Response` refuses the upgrade; anything else accepts it. */
export type UpgradeResult<T> = Response | UpgradeOptions<T> | undefined | void;

/** What the `fetch` handler learns besides the request. */
export interface RequestInfo {
  /** The client's address. */
  remoteAddress: NetAddress;
}

/**
 * Options for {@link serve}. Limits and timers apply per connection. Every option is checked when
 * the server is created: a value of the wrong type or an unknown (say, misspelt) option throws a
 * `TypeError`, a number out of range a `RangeError`, each naming the option and the value.
 */
export interface ServeOptions<T = undefined> extends ConnectionOptions {
  /** The interface to listen on. Defaults to "0.0.0.0", as Deno and Bun do. */
  hostname?: string;
  /** The port to listen on; 0 picks a free one. Defaults to 8080. */
  port?: number;
  /** Serve `wss://` with this certificate and key. */
  tls?: TlsCertificate;
  /**
   * Listen with SO_REUSEPORT, so several processes (each calling `serve` with this option) can
   * listen on the same hostname and port; the kernel spreads new connections over them. Each
   * process has its own connections and topics (a `backplane` links the topics). Linux only: on
   * other platforms `serve` throws rather than listening without it. On Deno it needs the
   * `--unstable-net` flag (Deno 2's `reusePort` is unstable), and `serve` throws without it.
   */
  reusePort?: boolean;
  /**
   * The subprotocols this server speaks. When the `upgrade` hook does not choose, the first of
   * the client's offers that is in this list is chosen, or none.
   */
  protocols?: readonly string[];
  /**
   * Sees each upgrade request before it is accepted: return a `Response` to refuse it (a 403 for
   * an unknown `Origin`, say), or options that choose the protocol, attach `data` and add headers.
   * A hook that throws refuses the request with 500.
   */
  upgrade?(request: Request, info: UpgradeInfo): UpgradeResult<T> | Promise<UpgradeResult<T>>;
  /**
   * Answers requests that are not WebSocket upgrades, e.g. with the page that opens the socket.
   * Without it they get 426. Each such connection closes after its response.
   */
  fetch?(request: Request, info: RequestInfo): Response | Promise<Response>;
  /**
   * The WebSocket callbacks. All are optional, and so is the handler: without a `message`
   * callback each connection's messages wait to be pulled with `for await (const message of ws)`
   * (in `open`, typically), and a server that only sends (broadcasts, `publish`) needs no
   * callbacks at all. Messages that nothing reads are a mistake, though: the client waits for an
   * answer that never comes. So when a message arrives and there is neither a `message` nor an
   * `open` callback, or a connection's `messageQueueLength` messages wait and nothing has ever
   * read it, the server says so once on the console (`console.warn`).
   */
  websocket?: WebSocketHandler<T>;
  /** Largest request head (request line and headers), in bytes; over it is a 431. */
  maxHeaderBytes?: number;
  /** Most header fields in a request; more is a 431. */
  maxHeaderCount?: number;
  /** Largest request body the `fetch` handler is given, in bytes; over it is a 413. */
  maxBodyBytes?: number;
  /**
   * How long a client has from accepting its TCP connection to the end of its request head, in
   * ms: the TLS handshake (`wss://`) and the head, however slowly they come. Then it gets 408 and
   * is closed, or is just closed while its TLS handshake is unfinished. Defaults to 10 s.
   */
  handshakeTimeout?: number;
  /**
   * How long a request for the `fetch` handler has to send its body once its head has arrived,
   * in ms; then it gets 408 and is closed. Defaults to 60 s, time for `maxBodyBytes` (1 MiB) over
   * a link of about 140 kbit/s.
   */
  bodyTimeout?: number;
  /** Most open WebSocket connections; upgrades beyond it get 503. Unlimited by default. */
  maxConnections?: number;
  /**
   * A limit on the messages each connection may send (a token bucket over messages and bytes),
   * so that one fast client cannot flood what it is relayed to. Off by default. Over it, a
   * message is dropped (`websocket.rateLimited` gets it) or the connection closed with 1008.
   */
  rateLimit?: RateLimit;
  /** Shuts the server down (as `shutdown()` does) when aborted. */
  signal?: AbortSignal;
  /** Called once the server listens, with its address. */
  onListen?(address: NetAddress): void;
  /**
   * Accept permessage-deflate (RFC 7692) from clients that offer it: `true` for the defaults, or
   * settings. Off by default, as in `ws` and Bun (compression costs CPU and memory per
   * connection).
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Carries topic messages to the other instances of this application (other processes, other
   * machines), e.g. a `RedisBackplane` from `@edgews/edgews/redis`. `publish` then reaches the
   * subscribers of every instance; each instance listens on the backplane only to the topics its
   * own connections are subscribed to. The server closes the backplane when it shuts down.
   */
  backplane?: Backplane;
}

/** Options for {@link WebSocketServer.shutdown}. */
export interface ShutdownOptions {
  /** The close code sent to every connection. Defaults to 1001 (going away). */
  code?: number;
  /** The close reason sent with it. Defaults to "server shutting down". */
  reason?: string;
  /** How long to wait for the close handshakes before dropping connections, in ms. */
  timeout?: number;
}

/** How long `shutdown` waits for close callbacks after its deadline dropped their connections. */
const CLOSE_CALLBACK_GRACE_MS = 1_000;

const HTTP_DEFAULTS = {
  hostname: "0.0.0.0",
  port: 8080,
  // 16 KiB fits any browser's request with cookies; Node uses the same limit.
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxBodyBytes: 1024 * 1024,
  handshakeTimeout: 10_000,
  // 1 MiB (maxBodyBytes) in 60 s is about 140 kbit/s: a poor mobile link still gets its body in.
  // Node's http allows 300 s for a whole request, but its bodies have no size limit.
  bodyTimeout: 60_000,
};

/** A listening WebSocket server. Create it with `serve()`. */
export class WebSocketServer<T = undefined> {
  /** The bound address; `port` is the real one when 0 was asked for. */
  readonly address: NetAddress;
  /** Settles once the server has shut down and every connection has closed. */
  readonly finished: Promise<void>;

  readonly #options: ServeOptions<T>;
  readonly #connectionOptions: Required<ConnectionOptions>;
  readonly #deflateOptions: Required<PerMessageDeflateOptions> | null;
  readonly #handler: WebSocketHandler<T>;
  readonly #listener: Listener;
  readonly #scheme: "http" | "https";
  readonly #connections = new Set<Connection<T>>();
  /** Forgets a connection once it has closed (every connection's `onClosed`). */
  readonly #untrack = (ws: object) => this.#connections.delete(ws as Connection<T>);
  readonly #topics: TopicRegistry<Connection<T>>;
  /** Sockets still in the HTTP phase, with a function that drops each. */
  readonly #handshaking = new Set<() => void>();
  #shutdown: Promise<void> | null = null;
  #resolveFinished!: () => void;

  /** @ignore Use `serve()`, which picks the adapter for the current runtime. */
  constructor(listen: ListenFunction, options: ServeOptions<T>) {
    // Once, here: a bad option is an exception now rather than a failure on every connection.
    checkServeOptions(options);
    this.#options = options;
    this.#connectionOptions = resolveConnectionOptions(options);
    this.#deflateOptions = resolveDeflateOptions(options.perMessageDeflate);
    this.#handler = options.websocket ?? {};
    this.#scheme = options.tls === undefined ? "http" : "https";
    this.#topics = new TopicRegistry(options.backplane ?? null);
    this.finished = new Promise((resolve) => this.#resolveFinished = resolve);
    this.#listener = listen(
      {
        hostname: options.hostname ?? HTTP_DEFAULTS.hostname,
        port: options.port ?? HTTP_DEFAULTS.port,
        tls: options.tls,
        reusePort: options.reusePort,
      },
      (transport) => this.#accept(transport),
    );
    this.address = this.#listener.address;
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) this.shutdown();
      else signal.addEventListener("abort", () => this.shutdown(), { once: true });
    }
    options.onListen?.(this.address);
  }

  /** The bound port. */
  get port(): number {
    return this.address.port;
  }

  /** The bound interface. */
  get hostname(): string {
    return this.address.hostname;
  }

  /** How many WebSocket connections are open (or closing). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The open WebSocket connections. */
  connections(): IterableIterator<ServerWebSocket<T>> {
    return this.#connections.values();
  }

  /**
   * Sends a message to every connection subscribed to `topic`, and through the `backplane` (if
   * any) to the subscribers on every other instance. The frame is encoded once and the same bytes
   * are queued for each subscriber. A subscriber whose send buffer is over `backpressureLimit`
   * misses the message (or is closed, with `closeOnBackpressureLimit`), so one slow reader neither
   * holds up the others nor grows memory. Returns how many local subscribers it was queued for.
   */
  publish(topic: string, data: SendData): number {
    return this.#topics.publish(topic, data, null);
  }

  /** How many of this instance's connections are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.#topics.subscriberCount(topic);
  }

  /**
   * Shuts down gracefully: stops accepting, sends a close frame (1001 by default) to every
   * connection after what was already queued for it, waits up to `timeout` for the closing
   * handshakes and the `close` callbacks (an async one may still publish to other instances),
   * then drops whatever is left, and closes the backplane. Resolves when everything is closed.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (this.#shutdown !== null) return this.#shutdown;
    const code = options.code ?? CloseCode.GoingAway;
    const reason = options.reason ?? "server shutting down";
    const timeout = options.timeout ?? this.#connectionOptions.closeTimeout;
    this.#listener.close();
    for (const drop of this.#handshaking) drop();
    const connections = [...this.#connections];
    for (const ws of connections) ws.close(code, reason);
    // Each connection is done once it is closed and its close callback has returned: a callback
    // may still be publishing (a chat telling the other instances who left), and the backplane
    // closes after this.
    const handled = () => Promise.all(connections.map((ws) => ws[CLOSE_HANDLED]()));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const ws of this.#connections) ws.terminate();
        // The close callbacks of the connections dropped just now get a moment more.
        const grace = setTimeout(resolve, CLOSE_CALLBACK_GRACE_MS);
        handled().then(() => {
          clearTimeout(grace);
          resolve();
        });
      }, timeout);
    });
    this.#shutdown = Promise.race([handled(), deadline]).then(async () => {
      clearTimeout(timer);
      await this.#topics.close();
      this.#resolveFinished();
    });
    return this.#shutdown;
  }

  /** Stops at once: no new connections, every open one dropped without a closing handshake. */
  stop(): Promise<void> {
    return this.shutdown({ timeout: 0 });
  }

  /** Shuts down gracefully, for `await using server = serve(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #accept(transport: Transport): Promise<void> {
    const reader = transport.readable.getReader();
    const writer = transport.writable.getWriter();
    const drop = () => transport.drop();
    if (this.#shutdown !== null) return drop();
    this.#handshaking.add(drop);
    try {
      await this.#handshake(transport, reader, writer, drop);
    } catch (error) {
      // Only a bug in this file can get here; the socket must not leak because of it.
      console.error("edgews: unexpected error during a handshake:", error);
      drop();
    } finally {
      this.#handshaking.delete(drop);
    }
  }

  async #handshake(
    transport: Transport,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    writer: WritableStreamDefaultWriter<Uint8Array>,
    drop: () => void,
  ): Promise<void> {
    const respond = (bytes: Uint8Array) => {
      writer.write(bytes).catch(ignore);
      writer.close().catch(ignore);
    };
    // Every deadline before the request is complete (the TLS handshake and the head, the body)
    // ends here. Until a TLS handshake is over nothing written reaches the peer, and a write
    // would wait for a handshake that may never come: a socket that times out then is dropped.
    let secured = transport.tlsHandshake === undefined;
    transport.tlsHandshake?.then(() => secured = true, ignore);
    const timeOut = () => {
      if (secured) respond(errorResponse({ status: 408, message: "Request timeout" }));
      else drop();
    };
    const received = await this.#readHead(reader, timeOut);
    if (received === null) return; // timed out (answered 408, or dropped) or closed by the client
    if ("status" in received) return respond(errorResponse(received));
    const { head, rest } = received;

    if (!isWebSocketUpgrade(head)) {
      return this.#serveHttp(transport, head, rest, reader, respond, timeOut);
    }

    const upgrade = validateUpgradeRequest(head);
    if ("status" in upgrade) return respond(errorResponse(upgrade));
    let decision: UpgradeResult<T>;
    const hook = this.#options.upgrade;
    if (hook === undefined) {
      // Nobody looks at a Request: only check what building one would have checked.
      if (!isPlausibleHost(head.headers.get("host") ?? "")) {
        return respond(errorResponse({ status: 400, message: "Malformed Host header" }));
      }
    } else {
      const request = this.#toRequest(head, null);
      if ("status" in request) return respond(errorResponse(request));
      try {
        decision = await hook(request, {
          remoteAddress: transport.remoteAddress,
          protocols: upgrade.protocols,
        });
      } catch (error) {
        console.error("edgews: the upgrade hook threw; answering 500:", error);
        return respond(errorResponse({ status: 500, message: "Internal Server Error" }));
      }
    }
    if (decision instanceof Response) return respond(await serializeFetchResponse(decision, false));

    const protocol = decision?.protocol !== undefined
      ? decision.protocol
      : selectSubprotocol(upgrade.protocols, this.#options.protocols ?? []);
    if (protocol !== null && !upgrade.protocols.includes(protocol)) {
      console.error(
        `edgews: the upgrade hook chose protocol "${protocol}", which the client did not offer`,
      );
      return respond(errorResponse({ status: 500, message: "Internal Server Error" }));
    }
    const deflate = negotiateServer(
      head.headers.get("sec-websocket-extensions"),
      this.#deflateOptions,
    );
    const extraHeaders = decision?.headers === undefined ? null : new Headers(decision.headers);
    const response = await acceptResponse(
      upgrade.key,
      protocol ?? "",
      deflate?.response ?? "",
      extraHeaders,
    );
    // Checked after the last wait, right before the connection counts: handshakes that were
    // under way together must not all slip in under maxConnections.
    if (this.#shutdown !== null) {
      return respond(errorResponse({ status: 503, message: "Server shutting down" }));
    }
    if (this.#connections.size >= (this.#options.maxConnections ?? Infinity)) {
      return respond(errorResponse({ status: 503, message: "Too many connections" }));
    }
    writer.write(response).catch(ignore);
    const ws = new Connection<T>({
      transport,
      reader,
      writer,
      role: "server",
      protocol: protocol ?? "",
      extensions: deflate?.response ?? "",
      deflate: deflate?.agreement ?? null,
      data: decision?.data as T,
      handler: this.#handler,
      options: this.#connectionOptions,
      topics: this.#topics,
      rateLimit: this.#options.rateLimit ?? null,
      // One function for every connection; a closure made here would also keep the handshake's
      // whole scope (its closures, the request head) alive for as long as the connection.
      onClosed: this.#untrack,
    });
    this.#connections.add(ws);
    ws.start(rest);
  }

  /**
   * Reads the request head within the size and time limits (the time counted from accept, TLS
   * handshake included). Returns the head and the bytes after it, an HTTP error, or null on
   * timeout or a closed socket.
   */
  async #readHead(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    timeOut: () => void,
  ): Promise<{ head: RequestHead; rest: Uint8Array } | HttpError | null> {
    const received = await withDeadline(
      this.#options.handshakeTimeout ?? HTTP_DEFAULTS.handshakeTimeout,
      timeOut,
      () =>
        readHead(
          reader,
          this.#options.maxHeaderBytes ?? HTTP_DEFAULTS.maxHeaderBytes,
          isPlausibleRequestStart,
          { status: 400, message: "Not an HTTP request" },
        ),
    );
    if (received === TIMED_OUT) return null;
    if (received === null || "status" in received) return received;
    const head = parseRequestHead(
      received.head,
      this.#options.maxHeaderCount ?? HTTP_DEFAULTS.maxHeaderCount,
    );
    return "status" in head ? head : { head, rest: received.rest };
  }

  /** A plain HTTP request: the `fetch` handler answers it, or 426 when there is none. */
  async #serveHttp(
    transport: Transport,
    head: RequestHead,
    rest: Uint8Array,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    respond: (bytes: Uint8Array) => void,
    timeOut: () => void,
  ): Promise<void> {
    const fetch = this.#options.fetch;
    if (fetch === undefined) {
      return respond(errorResponse({
        status: 426,
        message: "This is a WebSocket server; connect with a WebSocket client",
        headers: { upgrade: "websocket", "sec-websocket-version": "13" },
      }));
    }
    // The body has its own deadline, from the end of the head.
    const body = await withDeadline(
      this.#options.bodyTimeout ?? HTTP_DEFAULTS.bodyTimeout,
      timeOut,
      () => this.#readBody(head, rest, reader),
    );
    if (body === TIMED_OUT) return; // answered already; the read ended when the socket closed
    if (body !== null && "status" in body) return respond(errorResponse(body));
    const request = this.#toRequest(head, body);
    if ("status" in request) return respond(errorResponse(request));
    let response: Response;
    try {
      response = await fetch(request, { remoteAddress: transport.remoteAddress });
      if (!(response instanceof Response)) {
        throw new TypeError("fetch handler did not return a Response");
      }
    } catch (error) {
      console.error("edgews: the fetch handler threw; answering 500:", error);
      return respond(errorResponse({ status: 500, message: "Internal Server Error" }));
    }
    respond(await serializeFetchResponse(response, head.method === "HEAD"));
  }

  /** Reads a `Content-Length` body (chunked bodies are not supported: 501). */
  async #readBody(
    head: RequestHead,
    rest: Uint8Array,
    reader: ReadableStreamDefaultReader<Uint8Array>,
  ): Promise<Uint8Array | HttpError | null> {
    if (head.headers.has("transfer-encoding")) {
      return { status: 501, message: "Chunked request bodies are not supported" };
    }
    const declared = head.headers.get("content-length");
    if (declared === null) return null;
    const length = Number(declared);
    if (!/^\d+$/.test(declared) || !Number.isSafeInteger(length)) {
      return { status: 400, message: "Malformed Content-Length" };
    }
    if (length > (this.#options.maxBodyBytes ?? HTTP_DEFAULTS.maxBodyBytes)) {
      return { status: 413, message: "Request body too large" };
    }
    let body = rest;
    while (body.length < length) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done || value === undefined) return { status: 400, message: "Request body ended early" };
      body = concatBytes([body, value]);
    }
    return body.subarray(0, length);
  }

  /** The head as a standard `Request`, for the application's hooks. */
  #toRequest(head: RequestHead, body: Uint8Array | null): Request | HttpError {
    const host = head.headers.get("host") ?? "";
    if (!isPlausibleHost(host)) return { status: 400, message: "Malformed Host header" };
    let url: URL;
    try {
      url = head.target.startsWith("/")
        ? new URL(`${this.#scheme}://${host}${head.target}`)
        : new URL(head.target);
    } catch {
      return { status: 400, message: "Malformed request target" };
    }
    if (url.protocol === "ws:" || url.protocol === "wss:") url.protocol = this.#scheme;
    const hasBody = body !== null && head.method !== "GET" && head.method !== "HEAD";
    return new Request(url, {
      method: head.method,
      headers: head.headers.toHeaders(),
      body: hasBody ? body.slice() : undefined,
    });
  }
}

/** Host header characters: names, IPv4, bracketed IPv6, and a port. Nothing that bends a URL. */
function isPlausibleHost(host: string): boolean {
  if (host.length === 0 || host.length > 255) return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x2e || c === 0x2d || c === 0x3a || c === 0x5b || c === 0x5d || c === 0x5f;
    if (!ok) return false;
  }
  return true;
}

/** What {@link withDeadline} gives when the deadline passed first. */
const TIMED_OUT: unique symbol = Symbol("timed out");

/**
 * Runs `work` (a read of the request) with a deadline: when `ms` pass first, `timeOut` answers 408
 * or drops the socket, which also ends the read `work` waits on, and the result is
 * {@link TIMED_OUT} whatever the read returned. (Cancelling the reader instead would close the
 * socket before a 408 could be written.)
 */
async function withDeadline<T>(
  ms: number,
  timeOut: () => void,
  work: () => Promise<T>,
): Promise<T | typeof TIMED_OUT> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    timeOut();
  }, ms);
  try {
    const result = await work();
    return timedOut ? TIMED_OUT : result;
  } finally {
    clearTimeout(timer);
  }
}

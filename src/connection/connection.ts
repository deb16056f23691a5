/**
 * One open WebSocket over a {@link Transport}: the Web Streams side of the library, on either
 * end. It wires the parts together and moves bytes; the decisions are theirs:
 * - {@link Inbound} (the sans-I/O receiver, and inflating) turns what it reads into events;
 * - {@link Session} (sans I/O) decides the closing handshake: which close frame, who closes TCP;
 * - {@link Sender} batches, masks, compresses and counts what it writes;
 * - {@link Liveness} runs the idle timeout and the heartbeat;
 * - {@link MessageQueue} holds messages for the pull-style API.
 * What is left here: performing the session's steps with their timeout, application callbacks
 * (isolated: one that throws closes only its own connection), and topics.
 * @module
 */

import { EMPTY_BYTES, ignore } from "../protocol/bytes.ts";
import { type CloseDecision, closeFor } from "../protocol/close_causes.ts";
import { Opcode } from "../protocol/opcodes.ts";
import type { ReceiverHandler } from "../protocol/receiver.ts";
import { type CloseInfo, Session, SessionState, type SessionStep } from "../protocol/session.ts";
import type { DeflateAgreement } from "../handshake/permessage_deflate.ts";
import type { NetAddress, Transport } from "../transport.ts";
import type { ConnectionOptions } from "./connection_options.ts";
import { Inbound } from "./inbound.ts";
import { Liveness, type LivenessEvents } from "./liveness.ts";
import { type RateLimit, RateLimiter } from "./rate_limit.ts";
import { type SendData, toBytes } from "./message_frame.ts";
import { type Message, MessageQueue } from "./message_queue.ts";
import { Sender, type SenderEvents, type SendStatus } from "./sender.ts";
import { SEND_ENCODED_FRAME, type TopicRegistry } from "./topics.ts";
import type { ReadyState, SendOptions, ServerWebSocket, WebSocketHandler } from "./websocket.ts";

/** Everything a connection is created with; assembled by the server or the client. */
export interface ConnectionInit<T> {
  /** The socket, already past the HTTP handshake. */
  transport: Transport;
  /** The transport's reader, already used by the handshake. */
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** The transport's writer, already used by the handshake. */
  writer: WritableStreamDefaultWriter<Uint8Array>;
  /** "server" (expects masked frames, never masks) or "client" (the reverse). */
  role: "server" | "client";
  /** The negotiated subprotocol, or "". */
  protocol: string;
  /** The negotiated extensions header, or "". */
  extensions: string;
  /** permessage-deflate as negotiated, or null when the connection is uncompressed. */
  deflate: DeflateAgreement | null;
  /** Per-connection application data. */
  data: T;
  /** The application's callbacks (a client's get the same object, without topics). */
  // deno-lint-ignore no-explicit-any
  handler: WebSocketHandler<T, any>;
  /** Limits and timers, already merged with the defaults. */
  options: Required<ConnectionOptions>;
  /** The server's topics; null on the client side, which has none. */
  topics: TopicRegistry<Connection<T>> | null;
  /** The server's limit on incoming messages, or null for none. */
  rateLimit: RateLimit | null;
  /** Called once the connection has closed, before its `close` callback (the server's count). */
  onClosed?: (connection: object) => void;
}

/** The method that tells when a connection's `close` callback is done; kept off the public API. */
export const CLOSE_HANDLED: unique symbol = Symbol("edgews.closeHandled");

const encoder = new TextEncoder();
/** Server handlers whose unread messages have been reported: once per server is enough. */
const warnedUnread = new WeakSet<object>();
/** How many reads a connection does before letting the event loop run other work. */
const READS_PER_TURN = 16;

/**
 * The connection behind both public interfaces ({@link ServerWebSocket} on a server,
 * `WebSocketConnection` from `connect()`); created by the server or the client once the
 * opening handshake has succeeded, then started.
 */
export class Connection<T = undefined> implements ServerWebSocket<T> {
  /** The subprotocol both ends agreed on, or "" for none. */
  readonly protocol: string;
  /** The extensions both ends agreed on, or "". */
  readonly extensions: string;
  /** The peer's address. */
  readonly remoteAddress: NetAddress;
  /** Per-connection application data. */
  data: T;

  readonly #transport: Transport;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  // deno-lint-ignore no-explicit-any
  readonly #handler: WebSocketHandler<T, any>;
  readonly #options: Required<ConnectionOptions>;
  readonly #session: Session;
  readonly #inbound: Inbound;
  readonly #sender: Sender;
  readonly #liveness: Liveness;
  readonly #topics: TopicRegistry<Connection<T>> | null;
  /** The topics this connection subscribed to; created on the first subscription. */
  #subscriptions: Set<string> | null = null;
  /** The pull-style API's queue; null when the handler has a `message` callback. */
  readonly #queue: MessageQueue | null = null;
  /** Whether to look for messages that nothing will read (see #checkUnread). */
  #watchUnread = false;
  readonly #rateLimiter: RateLimiter | null = null;
  #rateLimitCloses = false;
  #rateLimited = 0;
  /** Bounds the closing handshake: the socket is dropped when it fires. */
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the socket is being closed (everything queued goes out first). */
  #socketClosing = false;
  /** The `close` callback's promise while it runs (an async callback), else null. */
  #closeHandled: Promise<void> | null = null;
  /** `closed`, made when first asked for: most connections are never awaited. */
  #closedPromise: Promise<CloseInfo> | null = null;
  #resolveClosed: ((info: CloseInfo) => void) | null = null;
  readonly #onClosed: ((connection: object) => void) | undefined;
  /** Created with the first async callback: many applications never have one. */
  #onApplicationErrorBound: ((error: unknown) => void) | null = null;

  /** Wires the parts; nothing is read or timed until {@link start}. */
  constructor(init: ConnectionInit<T>) {
    const options = init.options;
    this.protocol = init.protocol;
    this.extensions = init.extensions;
    this.remoteAddress = init.transport.remoteAddress;
    this.data = init.data;
    this.#transport = init.transport;
    this.#reader = init.reader;
    this.#writer = init.writer;
    this.#handler = init.handler;
    this.#options = options;
    this.#topics = init.topics;
    this.#onClosed = init.onClosed;
    this.#session = new Session(init.role);
    const hooks = new Connection.#Hooks(this);
    this.#inbound = new Inbound({
      expectMasked: init.role === "server",
      maxPayload: options.maxPayload,
      maxFrameSize: options.maxFrameSize,
      maxFragments: options.maxFragments,
      deflate: init.deflate,
    }, hooks);
    this.#sender = new Sender(this.#writer, {
      mask: init.role === "client",
      backpressureLimit: options.backpressureLimit,
      deflate: init.deflate,
    }, hooks);
    this.#liveness = new Liveness(options, hooks);
    if (init.rateLimit !== null) {
      this.#rateLimiter = new RateLimiter(init.rateLimit, Date.now());
      this.#rateLimitCloses = init.rateLimit.exceeded === "close";
    }
    if (init.handler.message === undefined) {
      this.#queue = new MessageQueue(options.messageQueueLength);
      // Only a server's connections: a client's caller holds the connection and reads it later.
      this.#watchUnread = init.role === "server" && !warnedUnread.has(init.handler);
    }
  }

  /** Settles with how the connection ended, once it has. */
  get closed(): Promise<CloseInfo> {
    if (this.#closedPromise === null) {
      // Once closed, the session's account of how does not change.
      this.#closedPromise = this.#session.state === SessionState.Closed
        ? Promise.resolve(this.#session.closeInfo)
        : new Promise((resolve) => this.#resolveClosed = resolve);
    }
    return this.#closedPromise;
  }

  /** The WHATWG ready state: 1 open, 2 closing, 3 closed. */
  get readyState(): ReadyState {
    return this.#session.state;
  }

  /** When bytes last arrived from the peer (ms since the epoch). */
  get lastReceivedAt(): number {
    return this.#liveness.lastReceivedAt;
  }

  /** When bytes were last handed to the socket (ms since the epoch). */
  get lastSentAt(): number {
    return this.#sender.lastSentAt;
  }

  /** Bytes handed to `send` (and friends) that the socket has not taken yet. */
  get bufferedAmount(): number {
    return this.#sender.bufferedAmount;
  }

  /** Messages from the peer dropped for the rate limit. */
  get rateLimited(): number {
    return this.#rateLimited;
  }

  /** Messages as a stream (the pull-style API only). */
  get readable(): ReadableStream<Message> {
    if (this.#queue === null) {
      throw new TypeError(
        "messages go to the handler's message callback; there is no stream to read",
      );
    }
    return this.#queue.readable;
  }

  /** Iterates over incoming messages until the connection closes (the pull-style API). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Message, void, undefined> {
    const reader = this.readable.getReader();
    try {
      while (true) {
        const next = await reader.read();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      reader.releaseLock();
    }
  }

  /** Sends a text message (for a string) or a binary message (for bytes). */
  send(data: SendData, options?: SendOptions): SendStatus {
    if (typeof data === "string") {
      return this.#sendMessage(Opcode.Text, encoder.encode(data), true, options);
    }
    return this.#sendMessage(Opcode.Binary, toBytes(data), false, options);
  }

  /** Sends a text message. */
  sendText(text: string, options?: SendOptions): SendStatus {
    return this.#sendMessage(Opcode.Text, encoder.encode(text), true, options);
  }

  /** Sends a binary message. */
  sendBinary(data: Uint8Array | ArrayBuffer | ArrayBufferView, options?: SendOptions): SendStatus {
    return this.#sendMessage(Opcode.Binary, toBytes(data), false, options);
  }

  /** Sends a ping. */
  ping(payload: SendData = EMPTY_BYTES): SendStatus {
    return this.#sendControl(Opcode.Ping, payload);
  }

  /** Sends an unsolicited pong. */
  pong(payload: SendData = EMPTY_BYTES): SendStatus {
    return this.#sendControl(Opcode.Pong, payload);
  }

  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void {
    this.#perform(this.#session.close(code, reason));
  }

  /** Drops the connection at once, without a closing handshake. */
  terminate(): void {
    this.#onSocketClosed();
  }

  /** Resolves when everything sent so far has been taken by the socket, or the connection ended. */
  drained(): Promise<void> {
    return this.#sender.drained();
  }

  /** Subscribes to a topic (server side only). */
  subscribe(topic: string): boolean {
    const topics = this.#requireTopics();
    if (!this.#session.isOpen || !topics.subscribe(topic, this)) return false;
    (this.#subscriptions ??= new Set()).add(topic);
    return true;
  }

  /** Unsubscribes from a topic. */
  unsubscribe(topic: string): boolean {
    const topics = this.#requireTopics();
    if (this.#subscriptions?.delete(topic) !== true) return false;
    topics.unsubscribe(topic, this);
    return true;
  }

  /** Whether this connection is subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.#subscriptions?.has(topic) ?? false;
  }

  /** The topics this connection is subscribed to. */
  get subscriptions(): string[] {
    return this.#subscriptions === null ? [] : [...this.#subscriptions];
  }

  /** Sends a message to every other subscriber of `topic`. */
  publish(topic: string, data: SendData): number {
    return this.#requireTopics().publish(topic, data, this);
  }

  /** Starts the timers and reading, with bytes that arrived together with the handshake. */
  start(leftover: Uint8Array): void {
    this.#liveness.start();
    this.#call(this.#handler.open);
    if (leftover.length > 0) this.#inbound.push(leftover);
    this.#readLoop();
  }

  /**
   * Settles once the connection is closed and its `close` callback has returned (an async one,
   * settled): the server waits for this before closing its backplane, so what a close callback
   * publishes still reaches the other instances.
   */
  [CLOSE_HANDLED](): Promise<void> {
    return this.closed.then(() => this.#closeHandled ?? undefined);
  }

  /** Queues a frame encoded once for many connections (a published message). */
  [SEND_ENCODED_FRAME](frame: Uint8Array, buffer: ArrayBufferLike): boolean {
    if (!this.#session.isOpen) return false;
    if (this.#sender.sendEncoded(frame, buffer) !== "dropped") return true;
    this.#onRefused();
    return false;
  }

  // ---------------------------------------------------------------- sending

  #sendMessage(
    opcode: number,
    payload: Uint8Array,
    owned: boolean,
    options: SendOptions | undefined,
  ): SendStatus {
    if (!this.#session.isOpen) return "dropped";
    const status = this.#sender.sendMessage(opcode, payload, owned, options?.compress !== false);
    if (status === "dropped") this.#onRefused();
    return status;
  }

  #sendControl(opcode: number, data: SendData): SendStatus {
    const payload = typeof data === "string" ? encoder.encode(data) : toBytes(data);
    if (payload.length > 125) throw new RangeError("control frame payloads are at most 125 bytes");
    if (!this.#session.isOpen) return "dropped";
    const status = this.#sender.sendControl(opcode, payload);
    if (status === "dropped") this.#onRefused();
    return status;
  }

  /** The send buffer was over the limit: the message was dropped, and maybe the connection. */
  #onRefused(): void {
    if (this.#options.closeOnBackpressureLimit) this.#fail(closeFor("send-buffer-limit"));
  }

  #requireTopics(): TopicRegistry<Connection<T>> {
    if (this.#topics === null) throw new TypeError("topics exist on the server side only");
    return this.#topics;
  }

  // ---------------------------------------------------------------- closing

  /** _Fail the WebSocket Connection_: input is discarded from here on. */
  #fail(decision: CloseDecision): void {
    this.#inbound.stop();
    this.#perform(this.#session.fail(decision));
  }

  /** Does what the session decided: the close frame, then the socket's step. */
  #perform(step: SessionStep): void {
    if (step.closeFrame !== null) this.#sender.sendClose(step.closeFrame);
    switch (step.socket) {
      case "none":
        return;
      case "await-close-frame":
      case "await-socket-close":
        // The peer's close frame, or (for a client) the server's end of TCP, is due within the
        // close timeout.
        this.#startCloseTimer();
        return;
      case "close-socket":
        this.#closeSocket();
        return;
      case "drop-socket":
        this.#onSocketClosed();
        return;
    }
  }

  /**
   * One deadline for the whole closing handshake, from its first step: a later step (the peer's
   * answer, closing our side) does not extend it, so a closing socket never lingers longer.
   */
  #startCloseTimer(): void {
    this.#closeTimer ??= setTimeout(() => this.#onSocketClosed(), this.#options.closeTimeout);
  }

  /**
   * Closes our side of TCP once everything queued has been written (a close frame still being
   * compressed behind a message included), or drops the socket after `closeTimeout` if the peer
   * does not read what is queued.
   */
  #closeSocket(): void {
    if (this.#socketClosing) return;
    this.#socketClosing = true;
    this.#startCloseTimer();
    // Half-close, then keep reading (and discarding) until the peer closes too. Closing outright
    // while the peer is still sending would leave unread bytes, and the kernel answers those with
    // a reset that can destroy our close frame before the peer has read it.
    this.#sender.end().then(() => {
      if (this.#session.state !== SessionState.Closed) this.#transport.closeWrite();
    });
  }

  /** The socket is closed (by either side, a failed write, or a timeout): report the end, once. */
  #onSocketClosed(): void {
    const info = this.#session.socketClosed();
    if (info === null) return;
    clearTimeout(this.#closeTimer);
    this.#liveness.stop();
    this.#inbound.stop();
    this.#sender.stop();
    this.#socketClosing = true;
    // Release the socket, whether it ended on its own, after a half-close, or by termination.
    this.#transport.drop();
    if (this.#subscriptions !== null) {
      for (const topic of this.#subscriptions) this.#topics?.unsubscribe(topic, this);
      this.#subscriptions = null;
    }
    this.#queue?.close();
    this.#resolveClosed?.(info);
    this.#onClosed?.(this);
    this.#closeHandled = this.#call(this.#handler.close, info.code, info.reason);
  }

  // ---------------------------------------------------------------- receiving

  async #readLoop(): Promise<void> {
    try {
      for (let reads = 1;; reads++) {
        if (reads % READS_PER_TURN === 0) {
          // A peer that keeps the socket full would have every read complete at once and never
          // let the event loop run other connections' callbacks: give way now and then.
          await yieldToEventLoop();
        }
        const { value, done } = await this.#reader.read();
        if (done) break;
        this.#liveness.received();
        this.#inbound.push(value);
        const backlog = this.#inbound.backlog();
        if (backlog !== null) await backlog;
        if (this.#queue !== null && this.#session.isOpen && this.#queue.isFull) {
          // Pull-style API and nobody is reading: stop reading from the socket until they do.
          await this.#queue.room();
        }
      }
    } catch {
      // A read error is the end of the transport, handled below like an end of stream.
    }
    this.#onSocketClosed();
  }

  /**
   * What the parts report (the receiver's events, the sender's, the timers'), as one object per
   * connection whose methods live on the prototype: an idle connection then holds one small
   * object rather than ten closures. Declared inside the class so that it may call the
   * connection's private methods.
   */
  static #Hooks = class Hooks implements ReceiverHandler, SenderEvents, LivenessEvents {
    // deno-lint-ignore no-explicit-any
    readonly connection: Connection<any>;

    // deno-lint-ignore no-explicit-any
    constructor(connection: Connection<any>) {
      this.connection = connection;
    }

    onMessage(message: Message, size: number): void {
      this.connection.#onMessage(message, size);
    }

    onPing(payload: Uint8Array): void {
      const connection = this.connection;
      // Answered while our close frame has not gone out (nothing may follow it), within the
      // send limit.
      if (!connection.#session.closeSent) connection.#sender.sendControl(Opcode.Pong, payload);
      connection.#call(connection.#handler.ping, payload);
    }

    onPong(payload: Uint8Array): void {
      this.connection.#call(this.connection.#handler.pong, payload);
    }

    onClose(code: number, reason: string): void {
      const connection = this.connection;
      connection.#perform(connection.#session.receiveClose(code, reason));
    }

    onProtocolError(decision: CloseDecision): void {
      this.connection.#fail(decision);
    }

    onDrain(): void {
      const connection = this.connection;
      if (connection.#session.isOpen) connection.#call(connection.#handler.drain);
    }

    onWriteFailed(): void {
      this.connection.#onSocketClosed();
    }

    ping(): void {
      this.connection.ping();
    }

    idle(): void {
      const { code, reason } = closeFor("idle-timeout");
      this.connection.close(code, reason);
    }

    dead(): void {
      // The peer is not reading: a close frame would only wait behind unsent bytes.
      const connection = this.connection;
      connection.#perform(connection.#session.abandon(closeFor("heartbeat-timeout")));
    }
  };

  #onMessage(message: Message, size: number): void {
    if (!this.#session.isOpen) return; // data after our close frame is discarded
    if (this.#rateLimiter !== null && !this.#rateLimiter.allow(size, Date.now())) {
      this.#onRateLimited(message);
      return;
    }
    const queue = this.#queue;
    if (queue !== null) {
      queue.push(message);
      if (this.#watchUnread) this.#checkUnread(queue);
      return;
    }
    // The hot path: called directly rather than through #call, which allocates for its arguments.
    const handler = this.#handler;
    try {
      const result = handler.message!.call(handler, this, message);
      if (result instanceof Promise) result.catch(this.#reportApplicationError());
    } catch (error) {
      this.#onApplicationError(error);
    }
  }

  /** A message over the rate limit: dropped (and counted, and reported), or the connection. */
  #onRateLimited(message: Message): void {
    if (this.#rateLimitCloses) {
      this.#fail(closeFor("rate-limit"));
      return;
    }
    this.#rateLimited++;
    this.#call(this.#handler.rateLimited, message);
  }

  /**
   * A server whose handler has no `message` callback leaves messages to be pulled with
   * `for await`, which is fine as long as something pulls. Without an `open` callback nothing can
   * (short of polling `connections()`), and a connection whose queue fills before anything has
   * started reading it is stuck: either way the peer just waits for an answer, so say so, once
   * per server (per handler object). Runs only in the pull path, until someone reads.
   */
  #checkUnread(queue: MessageQueue): void {
    const handler = this.#handler;
    if (queue.isRead || warnedUnread.has(handler)) {
      this.#watchUnread = false; // something reads this connection, or it has been said
      return;
    }
    const hasOpen = handler.open !== undefined;
    if (hasOpen && !queue.isFull) return;
    this.#watchUnread = false;
    warnedUnread.add(handler);
    const { hostname, port } = this.remoteAddress;
    console.warn(
      `edgews: messages from ${hostname}:${port} wait unread. The server's websocket handler ` +
        "has no message callback, so messages wait for `for await (const message of ws)`, " +
        (hasOpen
          ? `but nothing has read this connection (${this.#options.messageQueueLength} ` +
            "messages queued; reading from it has paused). "
          : "and there is no open callback to do that in. ") +
        "Give serve() websocket: { message(ws, message) {...} }, or iterate ws in open(ws). " +
        "(Said once per server.)",
    );
  }

  // ------------------------------------------------------- application calls

  /**
   * Calls an application callback. What it throws, or the promise it rejects, is reported to the
   * `error` callback and closes this connection with 1011; it never reaches the server.
   */
  #call<A extends unknown[]>(
    callback: ((ws: Connection<T>, ...args: A) => unknown) | undefined,
    ...args: A
  ): Promise<void> | null {
    if (callback === undefined) return null;
    try {
      const result = callback.call(this.#handler, this, ...args);
      if (result instanceof Promise) {
        return result.then(ignore, this.#reportApplicationError());
      }
    } catch (error) {
      this.#onApplicationError(error);
    }
    return null;
  }

  #reportApplicationError(): (error: unknown) => void {
    return this.#onApplicationErrorBound ??= (error) => this.#onApplicationError(error);
  }

  #onApplicationError(error: unknown): void {
    const report = this.#handler.error;
    if (report === undefined) {
      console.error("edgews: a WebSocket handler threw; closing that connection with 1011:", error);
    } else {
      try {
        const result = report.call(this.#handler, this, error);
        if (result instanceof Promise) {
          result.catch((e) => console.error("edgews: error handler threw:", e));
        }
      } catch (secondary) {
        console.error("edgews: error handler threw:", secondary);
      }
    }
    this.#fail(closeFor("handler-error"));
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

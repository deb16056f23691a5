/**
 * One open WebSocket over a {@link Transport}: the Web Streams side of the library. It feeds the
 * bytes it reads to the sans-I/O {@link Receiver}, batches the frames it sends into one write per
 * turn of the event loop, runs the closing handshake with its timeout, and calls the
 * application's handlers. The same class serves the server and the client end.
 * @module
 */

import { CloseCode } from "../protocol/close_codes.ts";
import { encodeClosePayload } from "../protocol/close_frame.ts";
import { firstHeaderByte, frameHeaderLength, writeFrame } from "../protocol/frame_encoder.ts";
import { Opcode } from "../protocol/opcodes.ts";
import { Receiver, type ReceiverHandler } from "../protocol/receiver.ts";
import type { NetAddress, Transport } from "../transport.ts";
import type { ChunkReader } from "./chunk_reader.ts";
import { returnWriteBuffer, takeWriteBuffer, WRITE_BUFFER_SIZE } from "./write_buffers.ts";
import { SEND_ENCODED_FRAME, type TopicRegistry } from "./topics.ts";
import { type SendData, toBytes } from "./message_frame.ts";
import { InboundDeflate, OutboundDeflate, type SendOptions } from "./compression.ts";
import type { DeflateAgreement } from "../handshake/permessage_deflate.ts";

/** A message as the application sees it: text as a string, binary as bytes. */
export type Message = string | Uint8Array;

/**
 * What happened to a message handed to `send`:
 * - `"sent"`: queued for the socket, and the send buffer is within `backpressureLimit`;
 * - `"backpressure"`: queued, but the buffer is now over the limit: wait for `drain` (or
 *   `drained()`), because messages sent before it empties are dropped;
 * - `"dropped"`: not queued, because the buffer was already over the limit (see
 *   `closeOnBackpressureLimit`) or the connection is no longer open.
 */
export type SendStatus = "sent" | "backpressure" | "dropped";

/** The WHATWG `readyState` values. */
export const ReadyState = {
  /** The handshake has not finished. */
  Connecting: 0,
  /** Messages can be sent and received. */
  Open: 1,
  /** A close frame has been sent or received; the handshake is finishing. */
  Closing: 2,
  /** The connection is closed. */
  Closed: 3,
} as const;

/** One of the {@link ReadyState} values. */
export type ReadyState = typeof ReadyState[keyof typeof ReadyState];

/** How a connection ended. */
export interface CloseInfo {
  /**
   * The close code: the peer's (or 1005 when its close frame had none) after a closing
   * handshake, the code this end sent after a protocol error, 1006 when the connection dropped.
   */
  code: number;
  /** The close reason that went with the code. */
  reason: string;
  /** True when both close frames were exchanged before the socket closed. */
  wasClean: boolean;
}

/**
 * Callbacks for connection events: the fast, push-style API. Every callback may be async; an
 * error it throws (or a promise it rejects) goes to `error` and closes that connection with 1011.
 */
export interface WebSocketHandler<T = undefined> {
  /** The connection is open and can send. */
  open?(ws: WebSocketConnection<T>): void | Promise<void>;
  /**
   * A message arrived. Without this callback, messages are queued for
   * `for await (const message of ws)` instead (the pull-style API). On a server, something must
   * then read each connection (in `open`, say): one that nothing reads is reported once on the
   * console (see `ServeOptions.websocket`).
   */
  message?(ws: WebSocketConnection<T>, message: Message): void | Promise<void>;
  /** The send buffer has emptied after `send` returned `"backpressure"`. */
  drain?(ws: WebSocketConnection<T>): void | Promise<void>;
  /** A ping arrived (it has already been answered with a pong). */
  ping?(ws: WebSocketConnection<T>, payload: Uint8Array): void | Promise<void>;
  /** A pong arrived. */
  pong?(ws: WebSocketConnection<T>, payload: Uint8Array): void | Promise<void>;
  /** The connection is closed. Called exactly once per opened connection. */
  close?(ws: WebSocketConnection<T>, code: number, reason: string): void | Promise<void>;
  /** An application callback threw. The connection is closed with 1011. */
  error?(ws: WebSocketConnection<T>, error: unknown): void | Promise<void>;
}

/** Limits and timers of one connection; servers and clients share them. */
export interface ConnectionOptions {
  /** Largest message accepted, summed across fragments; larger ones close with 1009. */
  maxPayload?: number;
  /** Most fragments one message may have; more close with 1009. */
  maxFragments?: number;
  /** How long to wait for the peer's close frame after sending ours, in ms. */
  closeTimeout?: number;
  /**
   * Most bytes buffered for sending. A message that finds the buffer over this is dropped (and
   * `send` says `"dropped"`), so a peer that does not read cannot grow the sender's memory.
   */
  backpressureLimit?: number;
  /** Close a connection whose send buffer is over `backpressureLimit` (1008) instead of dropping. */
  closeOnBackpressureLimit?: boolean;
  /** Largest single frame accepted, in bytes; larger ones close with 1009. */
  maxFrameSize?: number;
  /**
   * When nothing at all has arrived from the peer for this long (ms), close with 1001. 0 turns it
   * off.
   */
  idleTimeout?: number;
  /**
   * Halfway through `idleTimeout` of silence, send a ping, so that a live but quiet peer answers
   * and stays connected while a dead one is closed.
   */
  idlePing?: boolean;
  /**
   * Send a ping every this many ms; if nothing has arrived from the peer by the next one, it is
   * taken for dead: the connection is dropped and reported with 1011. 0 (the default) turns it off.
   */
  heartbeatInterval?: number;
  /** In the pull-style API, how many unread messages to queue before pausing reads. */
  messageQueueLength?: number;
}

/** The defaults of {@link ConnectionOptions}. */
export const DEFAULT_CONNECTION_OPTIONS: Readonly<Required<ConnectionOptions>> = {
  // 64 MiB: above Bun's 16 MiB and the conformance suite's largest message (16 MiB).
  maxPayload: 64 * 1024 * 1024,
  // The conformance suite sends 4 MiB in 64-byte fragments (65,536 of them); allow twice that.
  maxFragments: 131_072,
  closeTimeout: 10_000,
  // Bun's default; uWS uses 64 KiB. Large enough that a burst never drops, small enough to bound.
  backpressureLimit: 16 * 1024 * 1024,
  closeOnBackpressureLimit: false,
  maxFrameSize: 64 * 1024 * 1024,
  // Bun's and uWS's idle timeout, with Bun's pings when idle.
  idleTimeout: 120_000,
  idlePing: true,
  heartbeatInterval: 0,
  messageQueueLength: 16,
};

/** The connection options in `options` (server or client options), the rest from the defaults. */
export function resolveConnectionOptions(options: ConnectionOptions): Required<ConnectionOptions> {
  const defaults = DEFAULT_CONNECTION_OPTIONS;
  return {
    maxPayload: options.maxPayload ?? defaults.maxPayload,
    maxFragments: options.maxFragments ?? defaults.maxFragments,
    closeTimeout: options.closeTimeout ?? defaults.closeTimeout,
    backpressureLimit: options.backpressureLimit ?? defaults.backpressureLimit,
    closeOnBackpressureLimit: options.closeOnBackpressureLimit ?? defaults.closeOnBackpressureLimit,
    maxFrameSize: options.maxFrameSize ?? defaults.maxFrameSize,
    idleTimeout: options.idleTimeout ?? defaults.idleTimeout,
    idlePing: options.idlePing ?? defaults.idlePing,
    heartbeatInterval: options.heartbeatInterval ?? defaults.heartbeatInterval,
    messageQueueLength: options.messageQueueLength ?? defaults.messageQueueLength,
  };
}

/** Everything a connection is created with; assembled by the server or the client. */
export interface ConnectionInit<T> {
  /** The socket, already past the HTTP handshake. */
  transport: Transport;
  /** The transport's reader, already used by the handshake. */
  reader: ChunkReader;
  /** The transport's writer, already used by the handshake. */
  writer: WritableStreamDefaultWriter<Uint8Array>;
  /** "server" (expects masked frames, never masks) or "client" (the reverse). */
  role: "server" | "client";
  /** The negotiated subprotocol, or "". */
  protocol: string;
  /** The negotiated extensions header, or "". */
  extensions: string;
  /** permessage-deflate as negotiated, or null/absent when the connection is uncompressed. */
  deflate?: DeflateAgreement | null;
  /** Per-connection application data. */
  data: T;
  /** The application's callbacks. */
  handler: WebSocketHandler<T>;
  /** Limits and timers, already merged with the defaults. */
  options: Required<ConnectionOptions>;
  /** The server's topics; null on the client side, which has none. */
  topics: TopicRegistry<WebSocketConnection<T>> | null;
}

/** The method that tells when a connection's `close` callback is done; kept off the public API. */
export const CLOSE_HANDLED: unique symbol = Symbol("edgews.closeHandled");

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
/** Server handlers whose unread messages have been reported: once per server is enough. */
const warnedUnread = new WeakSet<object>();
/** Frames up to this size are copied into the shared batch; larger ones get their own write. */
const BATCH_FRAME_LIMIT = 64 * 1024;
/** With permessage-deflate, reading pauses while this many compressed bytes await inflating. */
const INFLATE_BACKLOG_LIMIT = 1024 * 1024;

/** An open WebSocket, on either end. */
export class WebSocketConnection<T = undefined> implements AsyncIterable<Message> {
  /** The subprotocol both ends agreed on, or "" for none. */
  readonly protocol: string;
  /** The extensions both ends agreed on (the `Sec-WebSocket-Extensions` response), or "". */
  readonly extensions: string;
  /** The peer's address. */
  readonly remoteAddress: NetAddress;
  /** Per-connection application data, as attached at the upgrade. */
  data: T;
  /** A promise that settles with how the connection ended, once it has. */
  readonly closed: Promise<CloseInfo>;

  readonly #role: "server" | "client";
  readonly #transport: Transport;
  readonly #reader: ChunkReader;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #handler: WebSocketHandler<T>;
  readonly #options: Required<ConnectionOptions>;
  readonly #receiver: Receiver;
  /** permessage-deflate's chains; null when it was not negotiated. */
  readonly #inflate: InboundDeflate | null = null;
  readonly #deflate: OutboundDeflate | null = null;
  readonly #topics: TopicRegistry<WebSocketConnection<T>> | null;
  /** The topics this connection subscribed to; created on the first subscription. */
  #subscriptions: Set<string> | null = null;
  #state: ReadyState = ReadyState.Open;
  /** The `close` callback's promise while it runs (an async callback), else null. */
  #closeHandled: Promise<void> | null = null;
  #resolveClosed!: (info: CloseInfo) => void;

  // Closing handshake.
  #closeSent = false;
  #closeReceived: { code: number; reason: string } | null = null;
  #failure: { code: number; reason: string } | null = null;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  // Liveness.
  #lastReceivedAt = Date.now();
  #lastSentAt = Date.now();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the idle ping was sent; a ping is due again only after something has arrived. */
  #idlePingAt = 0;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #awaitingHeartbeat = false;
  readonly #idleCheckBound = () => this.#idleCheck();
  #transportClosing = false;

  // Sending: frames queued in #batch until the end of the current task, then one write.
  #batch: Uint8Array | null = null;
  #batchLength = 0;
  #flushScheduled = false;
  /** Sizes of writes handed to the writer and not yet done, oldest first. */
  /** Writes handed to the writer and not yet done, oldest first (their buffers are reused). */
  readonly #writesInFlight: Uint8Array[] = [];
  #bytesInFlight = 0;
  #needsDrain = false;
  #drainWaiters: Array<() => void> = [];
  readonly #flushBound = () => this.#flushAtEndOfTurn();
  /** A batch waits for the write in flight to finish, then goes out as one write (#onWritten). */
  #flushWhenWritten = false;
  readonly #onApplicationErrorBound = (error: unknown) => this.#onApplicationError(error);
  readonly #onWrittenBound = () => this.#onWritten();
  readonly #onWriteFailedBound = () => this.#onTransportEnded();

  // Pull-style API.
  #messages: ReadableStream<Message> | null = null;
  #messageController: ReadableStreamDefaultController<Message> | null = null;
  #resumeReading: (() => void) | null = null;
  /** Whether to look for messages that nothing will read (see #checkUnread). */
  #watchUnread = false;

  /** @ignore Created by the server or the client once the handshake has succeeded. */
  constructor(init: ConnectionInit<T>) {
    this.protocol = init.protocol;
    this.extensions = init.extensions;
    this.remoteAddress = init.transport.remoteAddress;
    this.#transport = init.transport;
    this.data = init.data;
    this.#role = init.role;
    this.#reader = init.reader;
    this.#writer = init.writer;
    this.#handler = init.handler;
    this.#options = init.options;
    this.#topics = init.topics;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    let receiverHandler = this.#receiverHandler();
    if (init.deflate) {
      this.#inflate = new InboundDeflate(init.deflate, init.options.maxPayload, receiverHandler);
      receiverHandler = this.#inflate.receiverHandler();
      this.#deflate = new OutboundDeflate(init.deflate, {
        frame: (opcode, payload, fin, rsv1) => this.#queueFrame(opcode, payload, fin, rsv1),
        raw: (bytes) => this.#queueEncoded(bytes),
      });
    }
    this.#receiver = new Receiver(receiverHandler, {
      expectMasked: init.role === "server",
      maxPayload: init.options.maxPayload,
      maxFrameSize: init.options.maxFrameSize,
      maxFragments: init.options.maxFragments,
      perMessageDeflate: init.deflate ? true : false,
    });
    if (init.handler.message === undefined) {
      this.#createMessageStream();
      // Only a server's connections: a client's caller holds the connection and reads it later.
      this.#watchUnread = init.role === "server" && !warnedUnread.has(init.handler);
    }
  }

  /** The WHATWG ready state: 1 open, 2 closing, 3 closed. */
  get readyState(): ReadyState {
    return this.#state;
  }

  /** When bytes last arrived from the peer (ms since the epoch). */
  get lastReceivedAt(): number {
    return this.#lastReceivedAt;
  }

  /** When bytes were last handed to the socket (ms since the epoch). */
  get lastSentAt(): number {
    return this.#lastSentAt;
  }

  /** Bytes handed to `send` (and friends) that the socket has not taken yet. */
  get bufferedAmount(): number {
    return this.#batchLength + this.#bytesInFlight +
      (this.#deflate === null ? 0 : this.#deflate.pendingBytes);
  }

  /**
   * Messages as a stream, for code that prefers to pull. Only when the handler has no `message`
   * callback; it closes when the connection does. Reading from the peer pauses while
   * `messageQueueLength` messages wait unread.
   */
  get readable(): ReadableStream<Message> {
    if (this.#messages === null) {
      throw new TypeError(
        "messages go to the handler's message callback; there is no stream to read",
      );
    }
    return this.#messages;
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

  /**
   * Sends a text message (for a string) or a binary message (for bytes). With permessage-deflate
   * negotiated, `{ compress: false }` sends this one uncompressed.
   */
  send(data: SendData, options?: SendOptions): SendStatus {
    if (this.#deflate !== null) {
      return typeof data === "string"
        ? this.#sendCompressible(Opcode.Text, encoder.encode(data), true, options)
        : this.#sendCompressible(Opcode.Binary, toBytes(data), false, options);
    }
    if (typeof data === "string") return this.#sendData(Opcode.Text, encoder.encode(data));
    return this.#sendData(Opcode.Binary, toBytes(data));
  }

  /** Sends a text message (`options` as for {@link send}). */
  sendText(text: string, options?: SendOptions): SendStatus {
    if (this.#deflate !== null) {
      return this.#sendCompressible(Opcode.Text, encoder.encode(text), true, options);
    }
    return this.#sendData(Opcode.Text, encoder.encode(text));
  }

  /** Sends a binary message (`options` as for {@link send}). */
  sendBinary(data: Uint8Array | ArrayBuffer | ArrayBufferView, options?: SendOptions): SendStatus {
    if (this.#deflate !== null) {
      return this.#sendCompressible(Opcode.Binary, toBytes(data), false, options);
    }
    return this.#sendData(Opcode.Binary, toBytes(data));
  }

  /** Sends a ping (at most 125 bytes of payload); the peer answers with a pong. */
  ping(payload: SendData = EMPTY): SendStatus {
    return this.#sendControl(Opcode.Ping, payload);
  }

  /** Sends an unsolicited pong (at most 125 bytes of payload), e.g. as a one-way heartbeat. */
  pong(payload: SendData = EMPTY): SendStatus {
    return this.#sendControl(Opcode.Pong, payload);
  }

  /**
   * Starts the closing handshake: sends a close frame and waits up to `closeTimeout` for the
   * peer's, then closes the socket. Without a code the close frame is empty (the peer sees 1005).
   * Throws a RangeError for a code that may not be sent (1004–1006, 1015, below 1000, 1016–2999,
   * 5000 and up) or a reason over 123 UTF-8 bytes. Does nothing once closing has begun.
   */
  close(code?: number, reason?: string): void {
    const payload = encodeClosePayload(code, reason);
    if (this.#state !== ReadyState.Open) return;
    this.#state = ReadyState.Closing;
    this.#sendCloseFrame(payload);
    this.#closeTimer = setTimeout(() => this.terminate(), this.#options.closeTimeout);
  }

  /** Subscribes to a topic; returns false when already subscribed. Server side only. */
  subscribe(topic: string): boolean {
    const topics = this.#requireTopics();
    if (this.#state !== ReadyState.Open || !topics.subscribe(topic, this)) return false;
    (this.#subscriptions ??= new Set()).add(topic);
    return true;
  }

  /** Unsubscribes from a topic; returns false when not subscribed. */
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

  /**
   * Sends a message to every other subscriber of `topic` (not to this connection, even if it is
   * subscribed). The frame is encoded once for all of them. Returns how many it was queued for.
   */
  publish(topic: string, data: SendData): number {
    return this.#requireTopics().publish(topic, data, this);
  }

  /** Drops the connection at once, without a closing handshake. The close code is 1006. */
  terminate(): void {
    if (this.#state === ReadyState.Closed) return;
    this.#receiver.stop();
    this.#transportClosing = true;
    this.#writer.abort().catch(ignore);
    this.#reader.cancel().catch(ignore);
    this.#onTransportEnded();
  }

  /** Resolves when everything sent so far has been taken by the socket, or the connection ended. */
  drained(): Promise<void> {
    if (this.bufferedAmount === 0 || this.#state === ReadyState.Closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** @ignore Starts reading, with bytes that arrived together with the handshake. */
  start(leftover: Uint8Array): void {
    const { idleTimeout, idlePing, heartbeatInterval } = this.#options;
    if (idleTimeout > 0) {
      this.#idleTimer = setTimeout(this.#idleCheckBound, idlePing ? idleTimeout / 2 : idleTimeout);
    }
    if (heartbeatInterval > 0) {
      this.#heartbeatTimer = setInterval(() => this.#heartbeat(), heartbeatInterval);
    }
    this.#call(this.#handler.open);
    // The leftover is the head reader's own copy: the receiver may keep it.
    if (leftover.length > 0 && this.#state !== ReadyState.Closed) {
      this.#receiver.push(leftover, true);
    }
    this.#readLoop();
  }

  /**
   * @ignore Settles once the connection is closed and its `close` callback has returned (an
   * async one, settled): the server waits for this before closing its backplane, so what a close
   * callback publishes still reaches the other instances.
   */
  [CLOSE_HANDLED](): Promise<void> {
    return this.closed.then(() => this.#closeHandled ?? undefined);
  }

  /** @ignore Queues a frame encoded once for many connections (a published message). */
  [SEND_ENCODED_FRAME](frame: Uint8Array): boolean {
    if (this.#state !== ReadyState.Open) return false;
    if (this.bufferedAmount > this.#options.backpressureLimit) {
      this.#onBackpressureLimit();
      return false;
    }
    if (this.#deflate === null || !this.#deflate.holdRaw(frame)) this.#queueEncoded(frame);
    if (this.bufferedAmount > this.#options.backpressureLimit) this.#needsDrain = true;
    return true;
  }

  #requireTopics(): TopicRegistry<WebSocketConnection<T>> {
    if (this.#topics === null) throw new TypeError("topics exist on the server side only");
    return this.#topics;
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
        this.#lastReceivedAt = Date.now();
        this.#awaitingHeartbeat = false;
        if (!this.#receiver.stopped) this.#receiver.push(value, this.#reader.chunksAreFresh);
        if (this.#inflate !== null && this.#inflate.backlog > INFLATE_BACKLOG_LIMIT) {
          await this.#inflate.backlogBelow(INFLATE_BACKLOG_LIMIT);
        }
        if (this.#resumeReading === null && this.#messageQueueIsFull()) {
          // Pull-style API and nobody is reading: stop reading from the socket until they do.
          await new Promise<void>((resolve) => this.#resumeReading = resolve);
        }
      }
    } catch {
      // A read error is the end of the transport, handled below like an end of stream.
    }
    this.#onTransportEnded();
  }

  /**
   * The idle timer does not restart on every read: it wakes when the connection could first be
   * idle, looks at when bytes last arrived, and sleeps again for the rest.
   */
  #idleCheck(): void {
    if (this.#state === ReadyState.Closed) return;
    const { idleTimeout, idlePing } = this.#options;
    const now = Date.now();
    const silent = now - this.#lastReceivedAt;
    if (silent >= idleTimeout) {
      this.close(CloseCode.GoingAway, "idle timeout");
      return;
    }
    const pingAt = idleTimeout / 2;
    if (idlePing && silent >= pingAt && this.#idlePingAt <= this.#lastReceivedAt) {
      this.#idlePingAt = now;
      this.ping();
    }
    const next = idlePing && silent < pingAt ? pingAt - silent : idleTimeout - silent;
    this.#idleTimer = setTimeout(this.#idleCheckBound, next);
  }

  #heartbeat(): void {
    if (this.#state === ReadyState.Closed) return;
    if (this.#awaitingHeartbeat) {
      // Nothing since the last ping: the peer (or the path to it) is gone. A close frame would
      // only wait behind unsent bytes, so drop the socket now.
      this.#failure ??= { code: CloseCode.InternalError, reason: "heartbeat timeout" };
      this.terminate();
      return;
    }
    this.#awaitingHeartbeat = true;
    this.ping();
  }

  #receiverHandler(): ReceiverHandler {
    return {
      onMessage: (message) => this.#onMessage(message),
      onPing: (payload) => {
        // A peer that pings without reading gets no more pongs than the buffer allows.
        const bufferFull = this.bufferedAmount > this.#options.backpressureLimit;
        if (!this.#closeSent && !bufferFull) this.#queueFrame(Opcode.Pong, payload, true);
        this.#call(this.#handler.ping, payload);
      },
      onPong: (payload) => this.#call(this.#handler.pong, payload),
      onClose: (code, reason) => this.#onCloseFrame(code, reason),
      onProtocolError: (code, reason) => this.#fail(code, reason),
    };
  }

  #onMessage(message: Message): void {
    if (this.#state !== ReadyState.Open) return; // data after our close frame is discarded
    if (this.#messageController !== null) {
      this.#messageController.enqueue(message);
      if (this.#watchUnread) this.#checkUnread();
      return;
    }
    // The hot path: called directly rather than through #call, which allocates for its arguments.
    const handler = this.#handler;
    try {
      const result = handler.message!.call(handler, this, message);
      if (result instanceof Promise) result.catch(this.#onApplicationErrorBound);
    } catch (error) {
      this.#onApplicationError(error);
    }
  }

  /**
   * A server whose handler has no `message` callback leaves messages to be pulled with
   * `for await`, which is fine as long as something pulls. Without an `open` callback nothing can
   * (short of polling `connections()`), and a connection whose queue fills before anything has
   * started reading it is stuck: either way the peer just waits for an answer, so say so, once
   * per server (per handler object). Runs only in the pull path, until someone reads.
   */
  #checkUnread(): void {
    const handler = this.#handler;
    if (this.#messages!.locked || warnedUnread.has(handler)) {
      this.#watchUnread = false; // something reads this connection, or it has been said
      return;
    }
    const hasOpen = handler.open !== undefined;
    if (hasOpen && !this.#messageQueueIsFull()) return;
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

  #messageQueueIsFull(): boolean {
    const controller = this.#messageController;
    return controller !== null && this.#state === ReadyState.Open &&
      (controller.desiredSize ?? 1) <= 0;
  }

  #createMessageStream(): void {
    this.#messages = new ReadableStream<Message>({
      start: (controller) => {
        this.#messageController = controller;
      },
      pull: () => {
        const resume = this.#resumeReading;
        this.#resumeReading = null;
        resume?.();
      },
    }, { highWaterMark: this.#options.messageQueueLength });
  }

  #onCloseFrame(code: number, reason: string): void {
    this.#closeReceived = { code, reason };
    if (!this.#closeSent) {
      // Echo the code, as RFC 6455 §5.5.1 suggests; an empty close is answered with an empty one.
      this.#state = ReadyState.Closing;
      this.#sendCloseFrame(
        code === CloseCode.NoStatusReceived ? EMPTY : encodeClosePayload(code),
      );
    }
    // Both close frames are exchanged. The server closes TCP first (RFC 6455 §7.1.1); a client
    // waits for it, up to the close timeout.
    if (this.#role === "server") this.#closeTransport();
    else {
      clearTimeout(this.#closeTimer);
      this.#closeTimer = setTimeout(() => this.terminate(), this.#options.closeTimeout);
    }
  }

  /** _Fail the WebSocket Connection_: send a close frame with the code, then close the socket. */
  #fail(code: number, reason: string): void {
    if (this.#state === ReadyState.Closed) return;
    this.#receiver.stop();
    if (this.#failure === null) this.#failure = { code, reason };
    this.#state = ReadyState.Closing;
    if (!this.#closeSent) this.#sendCloseFrame(encodeClosePayload(code, truncateReason(reason)));
    this.#closeTransport();
  }

  /**
   * Closes the socket once everything queued has been written, or drops it after `closeTimeout`
   * if the peer does not read what is queued.
   */
  #closeTransport(): void {
    if (this.#transportClosing) return;
    // Frames still being compressed (and the close frame behind them) go out first.
    if (this.#deflate !== null && this.#deflate.holdCall(() => this.#closeTransport())) return;
    this.#transportClosing = true;
    this.#flush();
    clearTimeout(this.#closeTimer);
    this.#closeTimer = setTimeout(() => this.terminate(), this.#options.closeTimeout);
    // Half-close once everything queued is written, then keep reading (and discarding) until the
    // peer closes too. Closing outright while the peer is still sending would leave unread bytes,
    // and the kernel answers those with a reset that can destroy our close frame before the peer
    // has read it.
    this.drained().then(() => {
      if (this.#state !== ReadyState.Closed) this.#transport.closeWrite();
    });
  }

  #onTransportEnded(): void {
    if (this.#state === ReadyState.Closed) return;
    this.#state = ReadyState.Closed;
    clearTimeout(this.#closeTimer);
    clearTimeout(this.#idleTimer);
    clearInterval(this.#heartbeatTimer);
    this.#receiver.stop();
    this.#inflate?.stop();
    this.#deflate?.stop();
    // Release the socket, whether it ended on its own, after a half-close, or by termination.
    this.#transportClosing = true;
    this.#writer.abort().catch(ignore);
    this.#reader.cancel().catch(ignore);
    if (this.#batch !== null) returnWriteBuffer(this.#batch); // never handed to the writer
    this.#batch = null;
    this.#batchLength = 0;
    if (this.#subscriptions !== null) {
      for (const topic of this.#subscriptions) this.#topics?.unsubscribe(topic, this);
      this.#subscriptions = null;
    }
    const info = this.#closeInfo();
    const controller = this.#messageController;
    if (controller !== null) {
      this.#messageController = null;
      try {
        controller.close();
      } catch {
        // Already cancelled by the reader.
      }
    }
    const resume = this.#resumeReading;
    this.#resumeReading = null;
    resume?.();
    for (const wake of this.#drainWaiters.splice(0)) wake();
    this.#resolveClosed(info);
    this.#closeHandled = this.#call(this.#handler.close, info.code, info.reason);
  }

  #closeInfo(): CloseInfo {
    if (this.#failure !== null) return { ...this.#failure, wasClean: false };
    if (this.#closeReceived !== null) {
      return { ...this.#closeReceived, wasClean: this.#closeSent };
    }
    return { code: CloseCode.AbnormalClosure, reason: "", wasClean: false };
  }

  // ------------------------------------------------------------------ sending

  #sendData(opcode: number, payload: Uint8Array): SendStatus {
    if (this.#state !== ReadyState.Open) return "dropped";
    if (this.bufferedAmount > this.#options.backpressureLimit) {
      this.#onBackpressureLimit();
      return "dropped";
    }
    this.#queueFrame(opcode, payload, true);
    if (this.bufferedAmount > this.#options.backpressureLimit) {
      this.#needsDrain = true;
      return "backpressure";
    }
    return "sent";
  }

  /** `send` with permessage-deflate negotiated: compressed unless small or `compress: false`. */
  #sendCompressible(
    opcode: number,
    payload: Uint8Array,
    owned: boolean,
    options: SendOptions | undefined,
  ): SendStatus {
    const deflate = this.#deflate!;
    if (
      this.#state !== ReadyState.Open || this.bufferedAmount > this.#options.backpressureLimit ||
      !deflate.offer(opcode, payload, options?.compress !== false, owned)
    ) {
      return this.#sendData(opcode, payload);
    }
    if (this.bufferedAmount > this.#options.backpressureLimit) {
      this.#needsDrain = true;
      return "backpressure";
    }
    return "sent";
  }

  /** A message found the send buffer over the limit: it is dropped, and maybe the connection. */
  #onBackpressureLimit(): void {
    this.#needsDrain = true;
    if (this.#options.closeOnBackpressureLimit) {
      this.close(CloseCode.PolicyViolation, "send buffer limit exceeded");
    }
  }

  #sendControl(opcode: number, data: SendData): SendStatus {
    const payload = typeof data === "string" ? encoder.encode(data) : toBytes(data);
    if (payload.length > 125) throw new RangeError("control frame payloads are at most 125 bytes");
    return this.#sendData(opcode, payload);
  }

  #sendCloseFrame(payload: Uint8Array): void {
    this.#closeSent = true;
    this.#queueFrame(Opcode.Close, payload, true);
    this.#flush();
  }

  #queueFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv1 = false): void {
    if (this.#transportClosing) return;
    // Behind a message still being compressed, frames wait their turn.
    if (this.#deflate !== null && this.#deflate.hold(opcode, payload, fin)) return;
    const mask = this.#role === "client" ? randomMask() : null;
    const size = frameHeaderLength(payload.length, mask !== null) + payload.length;
    const firstByte = firstHeaderByte(fin, rsv1, opcode);
    if (size > BATCH_FRAME_LIMIT) {
      // Large frames get their own buffer (written after whatever is batched before them).
      this.#flush();
      const frame = new Uint8Array(size);
      writeFrame(frame, 0, firstByte, payload, mask);
      this.#write(frame);
      return;
    }
    const batch = this.#reserveBatch(size);
    this.#batchLength = writeFrame(batch, this.#batchLength, firstByte, payload, mask);
  }

  /**
   * Queues a frame that was encoded once for many connections (a published message). A small one
   * is copied into this connection's batch: copying a few hundred bytes costs far less than a
   * socket write of its own, and it lets many publishes reach a subscriber in one write. A large
   * one is written by reference, never copied.
   */
  #queueEncoded(frame: Uint8Array): void {
    if (frame.length > BATCH_FRAME_LIMIT) {
      this.#flush();
      this.#write(frame);
      return;
    }
    const batch = this.#reserveBatch(frame.length);
    batch.set(frame, this.#batchLength);
    this.#batchLength += frame.length;
  }

  /**
   * The batch, with room for `size` more bytes at #batchLength (a full batch is flushed first),
   * and a flush scheduled for the end of the current task.
   */
  #reserveBatch(size: number): Uint8Array {
    let batch = this.#batch;
    const needed = this.#batchLength + size;
    if (batch === null) {
      batch = takeWriteBuffer(size);
    } else if (needed > batch.length) {
      if (needed <= WRITE_BUFFER_SIZE) {
        // Outgrew its buffer: move what is there into the next size up.
        const larger = takeWriteBuffer(needed);
        larger.set(batch.subarray(0, this.#batchLength));
        returnWriteBuffer(batch);
        batch = larger;
      } else {
        this.#flush();
        batch = takeWriteBuffer(size);
      }
    }
    this.#batch = batch;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushBound);
    }
    return batch;
  }

  /**
   * The end of a turn: the batch goes out now, unless a write is still in flight. Then it keeps
   * growing and goes out when that write is done. Under load (writes that stay in flight, as
   * Deno's do, and many connections) this keeps writes few and large: otherwise a broadcast
   * to hundreds of subscribers that arrives one message per turn costs one socket write per
   * subscriber per message, the writes pile up, and throughput collapses.
   */
  #flushAtEndOfTurn(): void {
    this.#flushScheduled = false;
    if (this.#writesInFlight.length > 0) {
      this.#flushWhenWritten = true;
      return;
    }
    this.#flush();
  }

  /** Hands the batch to the socket as one write, now (behind any write in flight). */
  #flush(): void {
    this.#flushScheduled = false;
    this.#flushWhenWritten = false;
    const batch = this.#batch;
    if (batch === null || this.#batchLength === 0) return;
    const length = this.#batchLength;
    // The writer holds the bytes until the socket takes them; the buffer goes back to the pool
    // then (#onWritten), and the next batch takes another.
    this.#batch = null;
    this.#batchLength = 0;
    this.#write(batch.subarray(0, length));
  }

  #write(bytes: Uint8Array): void {
    this.#lastSentAt = Date.now();
    this.#writesInFlight.push(bytes);
    this.#bytesInFlight += bytes.length;
    this.#writer.write(bytes).then(this.#onWrittenBound, this.#onWriteFailedBound);
  }

  #onWritten(): void {
    const written = this.#writesInFlight.shift();
    if (written !== undefined) {
      this.#bytesInFlight -= written.length;
      returnWriteBuffer(written);
    }
    if (this.#flushWhenWritten && this.#writesInFlight.length === 0) this.#flush();
    if (this.bufferedAmount > 0) return;
    if (this.#drainWaiters.length > 0) { for (const wake of this.#drainWaiters.splice(0)) wake(); }
    if (this.#needsDrain) {
      this.#needsDrain = false;
      if (this.#state === ReadyState.Open) this.#call(this.#handler.drain);
    }
  }

  // ------------------------------------------------------- application calls

  /**
   * Calls an application callback. What it throws, or the promise it rejects, is reported to the
   * `error` callback and closes this connection with 1011; it never reaches the server.
   */
  #call<A extends unknown[]>(
    callback: ((ws: WebSocketConnection<T>, ...args: A) => unknown) | undefined,
    ...args: A
  ): Promise<void> | null {
    if (callback === undefined) return null;
    try {
      const result = callback.call(this.#handler, this, ...args);
      if (result instanceof Promise) {
        return result.then(ignore, (error) => this.#onApplicationError(error));
      }
    } catch (error) {
      this.#onApplicationError(error);
    }
    return null;
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
    if (this.#state === ReadyState.Open || this.#state === ReadyState.Closing) {
      this.#fail(CloseCode.InternalError, "internal error");
    }
  }
}

/** A close reason must fit in 123 UTF-8 bytes; protocol error texts are ASCII and short. */
function truncateReason(reason: string): string {
  return reason.length <= 123 ? reason : reason.slice(0, 123);
}

// Masks for client frames come from a pool of random bytes, refilled 4 KiB at a time, so a
// client does not call into the random number generator for every frame.
const MASK_POOL_SIZE = 4096;
const maskPool = new Uint8Array(MASK_POOL_SIZE);
let maskPoolOffset = MASK_POOL_SIZE;

function randomMask(): Uint8Array {
  if (maskPoolOffset === MASK_POOL_SIZE) {
    crypto.getRandomValues(maskPool);
    maskPoolOffset = 0;
  }
  const mask = maskPool.subarray(maskPoolOffset, maskPoolOffset + 4);
  maskPoolOffset += 4;
  return mask;
}

function ignore(): void {}

/** How many reads a connection does before letting the event loop run other work. */
const READS_PER_TURN = 16;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

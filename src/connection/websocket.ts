/**
 * The public face of a connection: what the application may call, as interfaces. A server hands
 * out {@link ServerWebSocket}s (with topics); `connect()` returns a {@link WebSocketConnection}
 * (without them, as Bun separates its `ServerWebSocket` from `WebSocket`). The class behind both
 * is internal, so its constructor and wiring are not part of the API.
 * @module
 */

import { type CloseInfo, SessionState } from "../protocol/session.ts";
import type { NetAddress } from "../transport.ts";
import type { Message } from "./message_queue.ts";
import type { SendData } from "./message_frame.ts";
import type { SendStatus } from "./sender.ts";

export type { CloseInfo, Message, SendData, SendStatus };

/**
 * The WHATWG `readyState` values a connection can show. There is no "connecting": a connection
 * object exists only once its opening handshake has succeeded.
 */
export const ReadyState = {
  /** Messages can be sent and received. */
  Open: SessionState.Open,
  /** A close frame has been sent or received; the handshake is finishing. */
  Closing: SessionState.Closing,
  /** The connection is closed. */
  Closed: SessionState.Closed,
} as const;

/** One of the {@link ReadyState} values: 1 open, 2 closing, 3 closed. */
export type ReadyState = typeof ReadyState[keyof typeof ReadyState];

/** Options for one `send`. */
export interface SendOptions {
  /**
   * With permessage-deflate negotiated, false sends this message uncompressed (e.g. data that is
   * already compressed). Messages below the `threshold` are never compressed. Default true.
   */
  compress?: boolean;
}

/** An open WebSocket, on either end. */
export interface WebSocketConnection<T = undefined> extends AsyncIterable<Message> {
  /** The subprotocol both ends agreed on, or "" for none. */
  readonly protocol: string;
  /** The extensions both ends agreed on (the `Sec-WebSocket-Extensions` response), or "". */
  readonly extensions: string;
  /** The peer's address. */
  readonly remoteAddress: NetAddress;
  /** Per-connection application data, as attached at the upgrade (or given to `connect`). */
  data: T;
  /** A promise that settles with how the connection ended, once it has. */
  readonly closed: Promise<CloseInfo>;
  /** The WHATWG ready state: 1 open, 2 closing, 3 closed. */
  readonly readyState: ReadyState;
  /** When bytes last arrived from the peer (ms since the epoch). */
  readonly lastReceivedAt: number;
  /** When bytes were last handed to the socket (ms since the epoch). */
  readonly lastSentAt: number;
  /** Bytes handed to `send` (and friends) that the socket has not taken yet. */
  readonly bufferedAmount: number;
  /**
   * Messages as a stream, for code that prefers to pull. Only when the handler has no `message`
   * callback (otherwise reading it throws a TypeError); it closes when the connection does.
   * Reading from the peer pauses while `messageQueueLength` messages wait unread.
   */
  readonly readable: ReadableStream<Message>;
  /**
   * Sends a text message (for a string) or a binary message (for bytes). With permessage-deflate
   * negotiated, `{ compress: false }` sends this one uncompressed.
   */
  send(data: SendData, options?: SendOptions): SendStatus;
  /** Sends a text message (`options` as for `send`). */
  sendText(text: string, options?: SendOptions): SendStatus;
  /** Sends a binary message (`options` as for `send`). */
  sendBinary(data: Uint8Array | ArrayBuffer | ArrayBufferView, options?: SendOptions): SendStatus;
  /** Sends a ping (at most 125 bytes of payload); the peer answers with a pong. */
  ping(payload?: SendData): SendStatus;
  /** Sends an unsolicited pong (at most 125 bytes of payload), e.g. as a one-way heartbeat. */
  pong(payload?: SendData): SendStatus;
  /**
   * Starts the closing handshake: sends a close frame and waits up to `closeTimeout` for the
   * peer's, then closes the socket. Without a code the close frame is empty (the peer sees 1005).
   * Throws a RangeError for a code that may not be sent (1004–1006, 1015, below 1000, 1016–2999,
   * 5000 and up) or a reason over 123 UTF-8 bytes. Does nothing once closing has begun.
   */
  close(code?: number, reason?: string): void;
  /** Drops the connection at once, without a closing handshake. The close code is 1006. */
  terminate(): void;
  /** Resolves when everything sent so far has been taken by the socket, or the connection ended. */
  drained(): Promise<void>;
}

/** A connection accepted by a server: a {@link WebSocketConnection} with topics. */
export interface ServerWebSocket<T = undefined> extends WebSocketConnection<T> {
  /** Subscribes to a topic; returns false when already subscribed (or no longer open). */
  subscribe(topic: string): boolean;
  /** Unsubscribes from a topic; returns false when not subscribed. */
  unsubscribe(topic: string): boolean;
  /** Whether this connection is subscribed to `topic`. */
  isSubscribed(topic: string): boolean;
  /** The topics this connection is subscribed to. */
  readonly subscriptions: string[];
  /**
   * Sends a message to every other subscriber of `topic` (not to this connection, even if it is
   * subscribed), on every instance when the server has a backplane. The frame is encoded once
   * for all of them. Returns how many local subscribers it was queued for.
   */
  publish(topic: string, data: SendData): number;
  /**
   * How many messages from this peer were dropped for the server's `rateLimit` (with
   * `exceeded: "drop"`).
   */
  readonly rateLimited: number;
}

/**
 * Callbacks for connection events: the fast, push-style API. Every callback may be async; an
 * error it throws (or a promise it rejects) goes to `error` and closes that connection with 1011.
 * `W` is the socket the callbacks get: a {@link ServerWebSocket} on a server, a
 * {@link WebSocketConnection} on a client.
 */
export interface WebSocketHandler<
  T = undefined,
  W extends WebSocketConnection<T> = ServerWebSocket<T>,
> {
  /** The connection is open and can send. */
  open?(ws: W): void | Promise<void>;
  /**
   * A message arrived. Without this callback, messages are queued for
   * `for await (const message of ws)` instead (the pull-style API). On a server, something must
   * then read each connection (in `open`, say): one that nothing reads is reported once on the
   * console (see `ServeOptions.websocket`).
   */
  message?(ws: W, message: Message): void | Promise<void>;
  /** The send buffer has emptied after `send` returned `"backpressure"`. */
  drain?(ws: W): void | Promise<void>;
  /** A ping arrived (it has already been answered with a pong). */
  ping?(ws: W, payload: Uint8Array): void | Promise<void>;
  /** A pong arrived. */
  pong?(ws: W, payload: Uint8Array): void | Promise<void>;
  /** The connection is closed. Called exactly once per opened connection. */
  close?(ws: W, code: number, reason: string): void | Promise<void>;
  /** An application callback threw. The connection is closed with 1011. */
  error?(ws: W, error: unknown): void | Promise<void>;
  /**
   * A message arrived over the server's `rateLimit` and was dropped (with `exceeded: "drop"`):
   * the place to tell the peer, sparingly.
   */
  rateLimited?(ws: W, message: Message): void | Promise<void>;
}

/**
 * An edgews server in this process (on the test's runtime) that records what happened on every
 * connection, for the test to assert on: the messages, pings and pongs it received, every call of
 * its `close` callback, and `ws.closed`. It echoes messages unless told otherwise.
 *
 * A connection is known by the `id` query parameter of its request ({@link RecordingServer.tag}
 * makes a fresh one), or by an id of the server's own when it has none.
 * @module
 */

import type {
  CloseInfo,
  Message,
  ServeOptions,
  WebSocketConnection,
  WebSocketHandler,
  WebSocketServer,
} from "../../mod.ts";
import { startServer } from "./servers.ts";
import { waitUntil } from "./timing.ts";

/** A connection's data: its id and its request path. */
export interface Tag {
  id: string;
  path: string;
}

/** The arguments of a `close` callback. */
export interface Close {
  code: number;
  reason: string;
}

/** What the server saw on one connection; of each message, what {@link RecordingOptions.keep} kept. */
export interface ConnectionRecord<M = Message> extends Tag {
  /** The server's side of the connection, once it has opened. */
  ws?: WebSocketConnection<Tag>;
  /** The subprotocol agreed on, once it has opened. */
  protocol: string;
  messages: M[];
  /** Payloads of the pings and pongs received (copies). */
  pings: Uint8Array[];
  pongs: Uint8Array[];
  /** Every call of the `close` callback, in order. */
  closes: Close[];
  /** The first call of the `close` callback. */
  closeCallback: Promise<Close>;
  /** `ws.closed`: how the connection ended, with `wasClean`. */
  closed: Promise<CloseInfo>;
}

/** What {@link startRecordingServer} does besides recording. */
export interface RecordingOptions<M = Message>
  extends Omit<ServeOptions<Tag>, "upgrade" | "websocket"> {
  /** What to keep of each message (e.g. a digest of a large one); the message by default. */
  keep?(message: Message): M;
  /** Runs when a connection opens, after it is recorded. */
  onOpen?(ws: WebSocketConnection<Tag>): void;
  /** Answers a message, after it is recorded; echoes it by default. */
  onMessage?(ws: WebSocketConnection<Tag>, message: Message): void;
  /** Runs on a pong, after it is recorded. */
  onPong?(ws: WebSocketConnection<Tag>, payload: Uint8Array): void;
  /** Takes messages with `for await (const message of ws)` instead of a `message` callback. */
  pull?: boolean;
}

/** A running recording server. */
export interface RecordingServer<M = Message> {
  server: WebSocketServer<Tag>;
  /** Every call of the `close` callback on any connection, in order, and when it came. */
  closes: Array<Close & { id: string; at: number }>;
  /** The first of {@link closes}, once there is one; rejects after `ms`. */
  firstClose(ms: number): Promise<Close & { id: string; at: number }>;
  /** A fresh id, the request path that carries it, and the ws:// URL of that path. */
  tag(path?: string): { id: string; path: string; url: string };
  /** What the server saw on the connection with this id; throws when it saw none. */
  record(id: string): ConnectionRecord<M>;
}

let nextId = 0;

/** Starts a recording server on 127.0.0.1 with a free port; see {@link RecordingOptions}. */
export function startRecordingServer<M = Message>(
  options: RecordingOptions<M> = {},
): RecordingServer<M> {
  const { keep = (message: Message) => message as M, onOpen, onMessage, onPong, pull, ...serve } =
    options;
  const records = new Map<string, ConnectionRecord<M>>();
  const closes: RecordingServer["closes"] = [];
  const opened = new Map<string, (ws: WebSocketConnection<Tag>) => void>();
  const closedOnce = new Map<string, (close: Close) => void>();
  const get = (ws: WebSocketConnection<Tag>) => records.get(ws.data.id)!;
  const open = (ws: WebSocketConnection<Tag>) => {
    const record = get(ws);
    record.ws = ws;
    record.protocol = ws.protocol;
    opened.get(ws.data.id)!(ws);
    onOpen?.(ws);
  };
  const received = (ws: WebSocketConnection<Tag>, message: Message) => {
    get(ws).messages.push(keep(message));
    if (onMessage) onMessage(ws, message);
    else ws.send(message);
  };
  const handler: WebSocketHandler<Tag> = {
    ping(ws, payload) {
      get(ws).pings.push(payload.slice());
    },
    pong(ws, payload) {
      get(ws).pongs.push(payload.slice());
      onPong?.(ws, payload);
    },
    close(ws, code, reason) {
      get(ws).closes.push({ code, reason });
      closes.push({ id: ws.data.id, code, reason, at: Date.now() });
      closedOnce.get(ws.data.id)!({ code, reason });
    },
  };
  if (pull) {
    handler.open = async (ws) => {
      open(ws);
      for await (const message of ws) received(ws, message);
    };
  } else {
    handler.open = open;
    handler.message = received;
  }

  const server = startServer<Tag>({
    ...serve,
    upgrade(request) {
      const url = new URL(request.url);
      const id = url.searchParams.get("id") ?? `#${nextId++}`;
      const record: ConnectionRecord<M> = {
        id,
        path: url.pathname,
        protocol: "",
        messages: [],
        pings: [],
        pongs: [],
        closes: [],
        closeCallback: new Promise((resolve) => closedOnce.set(id, resolve)),
        closed: new Promise((resolve) => opened.set(id, (ws) => ws.closed.then(resolve))),
      };
      records.set(id, record);
      return { data: { id, path: url.pathname } };
    },
    websocket: handler,
  });

  return {
    server,
    closes,
    async firstClose(ms) {
      await waitUntil(() => closes.length > 0, ms, "a close");
      return closes[0];
    },
    tag(path = "/") {
      const id = `c${nextId++}`;
      const tagged = `${path}?id=${id}`;
      return { id, path: tagged, url: `ws://127.0.0.1:${server.port}${tagged}` };
    },
    record(id) {
      const record = records.get(id);
      if (record === undefined) throw new Error(`the server saw no connection with id ${id}`);
      return record;
    },
  };
}

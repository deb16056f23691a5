/**
 * The edgews servers the interop tests talk to, on the test's runtime, with a record of what
 * the server saw on each connection (keyed by the `id` query parameter the test puts in the URL).
 *
 * Paths of the push-style server:
 * - any path: echo (text as text, binary as binary);
 * - `/server-ping`: pings on open with {@link SERVER_PING_PAYLOAD}; when the pong arrives, sends
 *   `pong:<hex of its payload>`;
 * - `/close-server`: sends "closing" on open, then closes with 4000 and {@link SERVER_CLOSE_REASON}.
 *
 * Both servers speak the subprotocol "chat" only. The pull-style server echoes with
 * `for await (const message of ws)` and has no `message` callback.
 * @module
 */

import type { Message, WebSocketConnection, WebSocketHandler, WebSocketServer } from "../../mod.ts";
import { hex } from "../helpers/bytes.ts";
import { startServer } from "../helpers/servers.ts";
import { SERVER_CLOSE_REASON, SERVER_PING_PAYLOAD } from "../peers/scenarios.mjs";

/** A message as the server saw it. */
export interface SeenMessage {
  type: "text" | "binary";
  length: number;
  sha256: string;
}

/** What the server saw on one connection. */
export interface ConnectionRecord {
  path: string;
  protocol: string;
  messages: Promise<SeenMessage>[];
  pongs: string[];
  /** The arguments of the `close` callback. */
  closeCallback: Promise<{ code: number; reason: string }>;
  /** `ws.closed`: how the connection ended, with `wasClean`. */
  closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
}

interface Data {
  id: string;
  path: string;
}

/** A server with its records. */
export interface InteropServer {
  server: WebSocketServer<Data>;
  /** The ws:// URL of a path, tagged with a fresh id; returns the id too. */
  url(path: string): { url: string; id: string };
  /** What the server saw on the connection with this id; throws when there was none. */
  record(id: string): ConnectionRecord;
}

let nextId = 0;

/** Starts a push-style (`pull` false) or pull-style interop server. */
export function startInteropServer(style: "push" | "pull"): InteropServer {
  const records = new Map<string, ConnectionRecord>();
  const resolvers = new Map<string, (value: { code: number; reason: string }) => void>();
  const get = (ws: WebSocketConnection<Data>) => {
    const record = records.get(ws.data.id);
    if (record === undefined) throw new Error(`no record for ${ws.data.id}`);
    return record;
  };
  const seen = (ws: WebSocketConnection<Data>, message: Message) => {
    get(ws).messages.push(describe(message));
  };

  const handler: WebSocketHandler<Data> = {
    open(ws) {
      const record = get(ws);
      record.protocol = ws.protocol;
      record.closed = ws.closed;
      if (ws.data.path === "/server-ping") ws.ping(SERVER_PING_PAYLOAD);
      if (ws.data.path === "/close-server") {
        ws.send("closing");
        ws.close(4000, SERVER_CLOSE_REASON);
      }
    },
    pong(ws, payload) {
      const record = get(ws);
      record.pongs.push(hex(payload));
      if (ws.data.path === "/server-ping") ws.send(`pong:${hex(payload)}`);
    },
    close(ws, code, reason) {
      resolvers.get(ws.data.id)?.({ code, reason });
    },
  };
  if (style === "push") {
    handler.message = (ws, message) => {
      seen(ws, message);
      ws.send(message);
    };
  } else {
    const open = handler.open!;
    handler.open = async (ws) => {
      open(ws);
      for await (const message of ws) {
        seen(ws, message);
        ws.send(message);
      }
    };
  }

  const server = startServer<Data>({
    protocols: ["chat"],
    upgrade(request) {
      const url = new URL(request.url);
      const id = url.searchParams.get("id") ?? "";
      records.set(id, {
        path: url.pathname,
        protocol: "",
        messages: [],
        pongs: [],
        closeCallback: new Promise((resolve) => resolvers.set(id, resolve)),
        closed: Promise.reject(new Error("the connection never opened")),
      });
      records.get(id)!.closed.catch(() => {});
      return { data: { id, path: url.pathname } };
    },
    websocket: handler,
  });

  return {
    server,
    url(path) {
      const id = `c${nextId++}`;
      return { id, url: `ws://127.0.0.1:${server.port}${path}?id=${id}` };
    },
    record(id) {
      const record = records.get(id);
      if (record === undefined) throw new Error(`the server saw no connection with id ${id}`);
      return record;
    },
  };
}

/** The same description the tests compute for what they sent. */
export async function describe(message: Message | Uint8Array): Promise<SeenMessage> {
  const bytes = typeof message === "string" ? new TextEncoder().encode(message) : message;
  return {
    type: typeof message === "string" ? "text" : "binary",
    length: bytes.length,
    sha256: hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice()))),
  };
}

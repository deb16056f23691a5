/**
 * Chat room: `/` serves the page, `/chat` is the room's WebSocket, speaking the `chat`
 * subprotocol.
 *
 *   deno run --allow-net --allow-env examples/chat/server.ts
 *   bun run examples/chat/server.ts
 *
 * PORT sets the port (default 8080; without `--allow-env` Deno uses the default). Ctrl-C shuts
 * down gracefully.
 *
 * The protocol, all text frames holding JSON:
 * - client → server: `{ "message": "…" }`, a non-empty string of at most 2,000 characters. The
 *   sender is the connection, never a field the client writes.
 * - server → client, in this order after the upgrade: `{ type: "welcome", uid }` with the uid the
 *   server gave this connection; `{ type: "history", messages }` with the last 100 messages;
 *   then `{ type: "presence", users, joined?, left? }` whenever someone joins or leaves (users
 *   are the connected uids) and `{ type: "message", uid, message, time }` for every message,
 *   the sender's own included (time is an ISO 8601 string set by the server).
 * - invalid input (not JSON, no string `message`, empty, too long) is answered with
 *   `{ type: "error", error }` and otherwise ignored; a connection that sends 10 invalid
 *   messages is closed with 1008, a binary message closes it with 1003 (unsupported data), a
 *   message over 64 KiB with 1009.
 *
 * Subprotocol: a client must offer `chat` (`new WebSocket(url, "chat")`; from "chat, superchat"
 * the server picks `chat`). A client that offers no `chat` is refused with 400 at the handshake
 * rather than accepted into a room whose messages it would not understand: the HTTP answer says
 * why, where an accepted socket would only fail later.
 * @module
 */

import { serve, type WebSocketConnection, type WebSocketServer } from "../../mod.ts";
import { env } from "../_env.ts";
import { shutdownOn } from "../_shutdown.ts";
import { CHAT_PAGE } from "./page.ts";

/** How many past messages a newcomer gets. */
export const HISTORY_SIZE = 100;
/** The longest message accepted, in UTF-16 code units (JavaScript string length). */
export const MAX_MESSAGE_LENGTH = 2_000;
/** Invalid messages a connection may send before it is closed with 1008. */
export const MAX_INVALID_MESSAGES = 10;
/** The subprotocol of `/chat`. */
export const SUBPROTOCOL = "chat";

const ROOM = "room";

/** A chat message as stored and sent. */
export interface ChatEntry {
  uid: string;
  message: string;
  time: string;
}

/** What the server keeps per connection. */
export interface Member {
  uid: string;
  invalid: number;
}

/** Options for {@link startChatServer}. */
export interface ChatServerOptions {
  hostname?: string;
  port?: number;
  /** Listen with SO_REUSEPORT, one of several processes on the port (see examples/cluster.ts). */
  reusePort?: boolean;
}

/** Starts the chat room; returns the listening server. */
export function startChatServer(options: ChatServerOptions = {}): WebSocketServer<Member> {
  /** The last HISTORY_SIZE messages, oldest first: a ring that overwrites its oldest slot. */
  const ring: ChatEntry[] = [];
  let ringStart = 0;
  const remember = (entry: ChatEntry) => {
    if (ring.length < HISTORY_SIZE) ring.push(entry);
    else {
      ring[ringStart] = entry;
      ringStart = (ringStart + 1) % HISTORY_SIZE;
    }
  };
  const history = () => [...ring.slice(ringStart), ...ring.slice(0, ringStart)];

  /** Connected members by uid, in the order they joined. */
  const members = new Map<string, WebSocketConnection<Member>>();

  const server: WebSocketServer<Member> = serve<Member>({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 8080,
    reusePort: options.reusePort,
    maxPayload: 64 * 1024,
    // A member that does not read is disconnected (1008) rather than silently missing messages;
    // when it reconnects, the history fills the gap.
    backpressureLimit: 1024 * 1024,
    closeOnBackpressureLimit: true,
    fetch(request) {
      const { pathname } = new URL(request.url);
      if (pathname !== "/") return new Response("Not found\n", { status: 404 });
      return new Response(CHAT_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    },
    upgrade(request, { protocols }) {
      const url = new URL(request.url);
      if (url.pathname !== "/chat") return new Response("Not found\n", { status: 404 });
      // A browser always sends Origin: refuse other sites' pages (cross-site WebSocket hijacking).
      const origin = request.headers.get("origin");
      if (origin !== null && origin !== `${url.protocol}//${url.host}`) {
        return new Response("Forbidden origin\n", { status: 403 });
      }
      if (!protocols.includes(SUBPROTOCOL)) {
        return new Response(
          `/chat speaks the "${SUBPROTOCOL}" subprotocol: new WebSocket(url, "${SUBPROTOCOL}")\n`,
          { status: 400 },
        );
      }
      return { protocol: SUBPROTOCOL, data: { uid: crypto.randomUUID(), invalid: 0 } };
    },
    websocket: {
      open(ws) {
        const { uid } = ws.data;
        ws.send(JSON.stringify({ type: "welcome", uid }));
        ws.send(JSON.stringify({ type: "history", messages: history() }));
        members.set(uid, ws);
        ws.subscribe(ROOM);
        announce({ joined: uid });
      },
      message(ws, data) {
        if (typeof data !== "string") {
          ws.close(1003, "send JSON text, not binary");
          return;
        }
        const input = parseInput(data);
        if ("error" in input) {
          if (++ws.data.invalid >= MAX_INVALID_MESSAGES) {
            ws.close(1008, "too many invalid messages");
          } else {
            ws.send(JSON.stringify({ type: "error", error: input.error }));
          }
          return;
        }
        const entry = { uid: ws.data.uid, message: input.message, time: new Date().toISOString() };
        remember(entry);
        server.publish(ROOM, JSON.stringify({ type: "message", ...entry }));
      },
      close(ws) {
        // The connection has already left the topic.
        if (members.delete(ws.data.uid)) announce({ left: ws.data.uid });
      },
    },
  });

  function announce(change: { joined: string } | { left: string }): void {
    server.publish(
      ROOM,
      JSON.stringify({ type: "presence", users: [...members.keys()], ...change }),
    );
  }

  return server;
}

/** A client's message, checked: `{ message }` with a non-empty string of bounded length. */
export function parseInput(data: string): { message: string } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { error: "not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { error: 'expected an object: {"message": "..."}' };
  }
  const message = (value as { message?: unknown }).message;
  if (typeof message !== "string") return { error: '"message" must be a string' };
  if (message.trim() === "") return { error: "empty message" };
  if (message.length > MAX_MESSAGE_LENGTH) {
    return { error: `message longer than ${MAX_MESSAGE_LENGTH} characters` };
  }
  return { message };
}

if (import.meta.main) {
  const server = startChatServer({
    port: Number(env("PORT") ?? 8080),
    reusePort: env("REUSE_PORT") === "1",
  });
  console.log(`chat server on http://${server.hostname}:${server.port}/`);
  shutdownOn(server);
}

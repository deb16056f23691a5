/**
 * Chat room: `/` serves the page, `/chat` is the room's WebSocket, speaking the `chat`
 * subprotocol.
 *
 *   npx deno run --allow-net --allow-env examples/chat/server.ts
 *   npx bun run examples/chat/server.ts
 *
 * PORT sets the port (default 8080; without `--allow-env` Deno uses the default). Ctrl-C or
 * SIGTERM shuts down gracefully.
 *
 * REDIS_URL (e.g. `redis://127.0.0.1:6379`) makes every process started with the same URL one
 * room: the history and the member list live in Redis (redis_store.ts) and live messages travel
 * through a RedisBackplane. A member of an instance that dies without leaving (kill -9) leaves the
 * others' lists 3 to 5 s later (a 4 s lease renewed every second; see redis_store.ts). Without
 * REDIS_URL the room is this process's alone, kept in memory (store.ts).
 *
 * The protocol, all text frames holding JSON:
 * - client → server: `{ "message": "…" }`, a non-empty string of at most 2,000 characters. The
 *   sender is the connection, never a field the client writes.
 * - `/chat?since=<id>` (optional): the id of the newest message the client already shows; the
 *   history then holds only the messages after it. A page that reconnects (to this instance or
 *   another) so misses nothing still in the history. Anything but a message id is refused (400).
 * - server → client after the upgrade: first `{ type: "welcome", uid }` with the uid the server
 *   gave this connection; then `{ type: "history", messages }`, the last 100 messages (or those
 *   after `since`), oldest first; then presence and messages as they come. The connection is
 *   subscribed to the room before the history is read, so nothing falls between the two: a live
 *   message may arrive before the history, and the history may hold it too. Clients show the
 *   history above the messages that arrived live and skip ids they already show.
 * - server → everyone: `{ type: "message", id, uid, message, time }` for every message, the
 *   sender's own included (time is an ISO 8601 string set by the server; id is `<ms>-<seq>`,
 *   increasing within the room, or null when the history could not be written: Redis is down and
 *   the message reaches this instance's members only). The same fields make up history entries.
 * - server → everyone: `{ type: "presence", users, version, joined?, left?, expired? }` whenever
 *   the list changes: users are the connected uids in the order they joined; joined or left names
 *   the connection that opened or closed, expired the members whose instance stopped renewing
 *   them. Lists can arrive out of order when two instances publish at once: a client keeps the
 *   one with the highest version it has seen on this connection.
 * - invalid input (not JSON, no string `message`, empty, too long) is answered with
 *   `{ type: "error", error }` and otherwise ignored; a connection that sends 10 invalid
 *   messages is closed with 1008, a binary message closes it with 1003 (unsupported data), a
 *   message over 64 KiB with 1009. An `error` also says when Redis is down (history, member list
 *   or a message not kept).
 * - a member that sends faster than {@link RATE_LIMIT} (no human does; a script can) has the
 *   messages over it dropped, not relayed, and gets an `error` saying so, at most once a second.
 *
 * Subprotocol: a client must offer `chat` (`new WebSocket(url, "chat")`; from "chat, superchat"
 * the server picks `chat`). A client that offers no `chat` is refused with 400 at the handshake
 * rather than accepted into a room whose messages it would not understand: the HTTP answer says
 * why, where an accepted socket would only fail later.
 * @module
 */

import { type RateLimit, ReadyState, serve, type WebSocketServer } from "../../mod.ts";
import { RedisBackplane } from "../../redis.ts";
import { env } from "../_env.ts";
import { shutdownOn } from "../_shutdown.ts";
import { CHAT_PAGE } from "./page.ts";
import { RedisChatStore } from "./redis_store.ts";
import {
  type ChatStore,
  HISTORY_SIZE,
  isMessageId,
  MemoryChatStore,
  type PresenceUpdate,
} from "./store.ts";

export { HISTORY_SIZE };
export type { ChatEntry, ChatStore, PresenceUpdate } from "./store.ts";

/** The longest message accepted, in UTF-16 code units (JavaScript string length). */
export const MAX_MESSAGE_LENGTH = 2_000;
/** Invalid messages a connection may send before it is closed with 1008. */
export const MAX_INVALID_MESSAGES = 10;
/**
 * How fast one member may talk: 5 messages a second on average, 20 at once, and 32 KiB a second
 * (64 KiB at once). No one typing reaches it; a script that floods the room does, and the room
 * then gets no more than this from it.
 */
export const RATE_LIMIT = {
  messagesPerSecond: 5,
  messageBurst: 20,
  bytesPerSecond: 32 * 1024,
  byteBurst: 64 * 1024,
  exceeded: "drop",
} as const;
/** A member over the rate limit is told at most this often (ms), not once per dropped message. */
const RATE_NOTICE_INTERVAL_MS = 1_000;
/** The subprotocol of `/chat`. */
export const SUBPROTOCOL = "chat";
/**
 * How long a newcomer's history waits for the backplane to confirm the room's subscription, in
 * ms. Bounded, so that a Redis outage delays no one for long (local chat goes on meanwhile).
 */
const SETTLE_TIMEOUT_MS = 2_000;

const ROOM = "room";

/** What the server keeps per connection. */
export interface Member {
  uid: string;
  invalid: number;
  /** The `since` the client asked for, or null for the whole history. */
  since: string | null;
  /** When the member was last told it is over the rate limit (ms), or 0. */
  rateNoticeAt: number;
}

/** Options for {@link startChatServer}. */
export interface ChatServerOptions {
  hostname?: string;
  port?: number;
  /** Listen with SO_REUSEPORT, one of several processes on the port (see examples/cluster.ts). */
  reusePort?: boolean;
  /** What the room remembers. Defaults to a {@link MemoryChatStore}: this process alone. */
  store?: ChatStore;
  /**
   * Carries the room's messages to the other instances. A newcomer's history is read only once
   * the room's subscription is in effect (`settled()`), so nothing published meanwhile is missed;
   * not while the backplane is down (then nothing arrives from the other instances anyway, and
   * the newcomer would only wait).
   */
  backplane?: RedisBackplane;
  /** Each member's limit; {@link RATE_LIMIT} unless given, null for none. */
  rateLimit?: RateLimit | null;
}

/** A running chat: its server and its store. */
export interface Chat {
  readonly server: WebSocketServer<Member>;
  readonly store: ChatStore;
  /**
   * Takes this instance's members off the list (telling the other instances), shuts the server
   * down (every client gets 1001, the backplane is closed), then closes the store.
   */
  shutdown(): Promise<void>;
}

/** Starts the chat room; returns the listening server (see {@link startChat} for the rest). */
export function startChatServer(options: ChatServerOptions = {}): WebSocketServer<Member> {
  return startChat(options).server;
}

/** Starts the chat room with its store (in memory unless `options.store`). */
export function startChat(options: ChatServerOptions = {}): Chat {
  const store = options.store ?? new MemoryChatStore();
  const backplane = options.backplane;
  let stopping = false;

  const server: WebSocketServer<Member> = serve<Member>({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 8080,
    reusePort: options.reusePort,
    backplane,
    maxPayload: 64 * 1024,
    // A member that does not read is disconnected (1008) rather than silently missing messages;
    // when it reconnects, the history fills the gap.
    backpressureLimit: 1024 * 1024,
    closeOnBackpressureLimit: true,
    // One member flooding the room would reach every member (on every instance): cap each.
    rateLimit: options.rateLimit === undefined ? RATE_LIMIT : options.rateLimit ?? undefined,
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
      const since = url.searchParams.get("since");
      if (since !== null && !isMessageId(since)) {
        return new Response("since must be a message id, <ms>-<seq>\n", { status: 400 });
      }
      return {
        protocol: SUBPROTOCOL,
        data: { uid: crypto.randomUUID(), invalid: 0, since, rateNoticeAt: 0 },
      };
    },
    websocket: {
      async open(ws) {
        const { uid, since } = ws.data;
        ws.send(JSON.stringify({ type: "welcome", uid }));
        // Subscribed before the history is read: a message stored after the read is published
        // after it too, and reaches this connection live.
        ws.subscribe(ROOM);
        if (backplane !== undefined && backplane.state !== "down") {
          const signal = AbortSignal.timeout(SETTLE_TIMEOUT_MS);
          await backplane.settled({ signal }).catch(() => {}); // late: read the history anyway
        }
        let messages: unknown[] = [];
        try {
          messages = await store.history(since);
        } catch {
          ws.send(JSON.stringify({ type: "error", error: "the history is unavailable right now" }));
        }
        if (ws.readyState !== ReadyState.Open) return; // gone while the history was read
        ws.send(JSON.stringify({ type: "history", messages }));
        if (stopping) return;
        // Joined after the history, so the newcomer's list arrives after it.
        const update = await store.join(uid);
        if (update !== null) announce(update);
        else {
          ws.send(
            JSON.stringify({ type: "error", error: "the member list is unavailable right now" }),
          );
        }
      },
      async message(ws, data) {
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
        const entry = await store.append({
          uid: ws.data.uid,
          message: input.message,
          time: new Date().toISOString(),
        });
        server.publish(ROOM, JSON.stringify({ type: "message", ...entry }));
        if (entry.id === null) {
          ws.send(JSON.stringify({
            type: "error",
            error: "not kept in the history, and only this server's members got it " +
              "(its storage is unavailable right now)",
          }));
        }
      },
      rateLimited(ws) {
        const now = Date.now();
        if (now - ws.data.rateNoticeAt < RATE_NOTICE_INTERVAL_MS) return;
        ws.data.rateNoticeAt = now;
        ws.send(JSON.stringify({
          type: "error",
          error: "you are sending too fast: messages not delivered " +
            `(at most ${RATE_LIMIT.messagesPerSecond} a second)`,
        }));
      },
      async close(ws) {
        // The connection has already left the topic. A join still in flight was sent first, so
        // the store removes what it added.
        const update = await store.leave(ws.data.uid);
        if (update !== null) announce(update);
      },
    },
  });

  // Lists the store changes by itself (expired leases; members listed again after an outage).
  store.onPresence(announce);

  function announce(update: PresenceUpdate): void {
    server.publish(ROOM, JSON.stringify({ type: "presence", ...update }));
  }

  return {
    server,
    store,
    async shutdown() {
      stopping = true;
      // Leave first, while the backplane still carries the new list to the other instances (the
      // close callbacks would run too late: the server closes the backplane once every
      // connection is closed). Nobody joins from here on.
      const update = await store.leaveAll();
      if (update !== null) announce(update);
      await server.shutdown();
      await store.close();
    },
  };
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
  const redisUrl = env("REDIS_URL");
  const chat = startChat({
    port: Number(env("PORT") ?? 8080),
    reusePort: env("REUSE_PORT") === "1",
    store: redisUrl ? new RedisChatStore({ url: redisUrl }) : undefined,
    backplane: redisUrl ? new RedisBackplane({ url: redisUrl }) : undefined,
  });
  console.log(`chat server on http://${chat.server.hostname}:${chat.server.port}/`);
  if (redisUrl) console.log("using Redis: one room with every instance on it");
  shutdownOn(chat);
}

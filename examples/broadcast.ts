/**
 * Broadcast server: every message a client sends goes to every *other* connected client, text as
 * text and binary as binary. Each connection subscribes to one topic when it opens and publishes
 * what it receives with `ws.publish`, which skips the sender and encodes the frame once for all.
 *
 *   npx deno run --allow-net --allow-env examples/broadcast.ts
 *   npx bun run examples/broadcast.ts
 *
 * PORT sets the port (default 8080; without `--allow-env` Deno uses the default). Ctrl-C shuts
 * down gracefully: every client gets a 1001 close frame after what was already queued for it.
 *
 * REDIS_URL (e.g. `redis://127.0.0.1:6379`) makes every process started with the same URL one
 * broadcast: the server gets a RedisBackplane, so `ws.publish` also reaches the clients of the
 * other processes (still never the sender). Without it the process is on its own, as before.
 *
 * Unlike a thread-per-client server with a shared dict of sockets, there is no shared mutable
 * state here: the server owns the topic and a closed connection leaves it by itself. A client
 * that stops reading cannot grow the server's memory: once its send buffer is over
 * `backpressureLimit`, it misses messages instead (see the comment on the option below).
 * @module
 */

import { serve } from "../mod.ts";
import { RedisBackplane } from "../redis.ts";
import { env } from "./_env.ts";
import { shutdownOn } from "./_shutdown.ts";

const TOPIC = "everyone";

const redisUrl = env("REDIS_URL");

const server = serve({
  hostname: "127.0.0.1",
  port: Number(env("PORT") ?? 8080),
  reusePort: env("REUSE_PORT") === "1",
  // Connects in the background: local clients are served before (and while) Redis is reachable.
  // The server closes it on shutdown.
  backplane: redisUrl ? new RedisBackplane({ url: redisUrl }) : undefined,
  // A client that does not read its messages misses the ones sent while 1 MiB is queued for it.
  // Set `closeOnBackpressureLimit: true` to disconnect it (with 1008) instead.
  backpressureLimit: 1024 * 1024,
  // Messages are relayed to everyone, so keep each one small.
  maxPayload: 64 * 1024,
  websocket: {
    open(ws) {
      ws.subscribe(TOPIC);
    },
    message(ws, message) {
      ws.publish(TOPIC, message);
    },
  },
});

console.log(`broadcast server on ws://${server.hostname}:${server.port}/`);
if (redisUrl) console.log("using Redis: messages reach the clients of every instance on it");

shutdownOn(server);

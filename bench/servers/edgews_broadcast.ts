// edgews broadcast (fan-out) server, for the broadcast and scale-out suites. The SAME file runs
// on Deno, Bun and Node:
//   deno run -A bench/servers/edgews_broadcast.ts
//   bun bench/servers/edgews_broadcast.ts
//   node bench/servers/edgews_broadcast.ts
// (PORT, default 9001; REDIS_URL optional: with it, the server gets a RedisBackplane.)
// Connections to /sub subscribe to one topic; every message received from the load generator's
// publisher on /pub is published to that topic with server.publish, which encodes the frame once
// and queues the same bytes for every local subscriber and, with a backplane, hands it to Redis
// for the other instances, which deliver it to theirs.
// Prints `listening <port>` once bound and, with a backplane, once both its Redis connections
// are up and it has settled. (The topic's Redis subscription is made when the first subscriber
// arrives, after that; the scale-out suite measures only once every subscriber on every instance
// has received a message, so that subscription is proven active end to end before anything is
// counted.) Without REDIS_URL, the Redis code is not even loaded.
import process from "node:process";
import { serve } from "../../mod.ts";
import type { RedisBackplane } from "../../redis.ts";

const TOPIC = "bench";
const redisUrl = process.env.REDIS_URL;

let backplane: RedisBackplane | undefined;
let up = Promise.resolve();
if (redisUrl) {
  const redis = await import("../../redis.ts");
  let resolveUp = () => {};
  up = new Promise((resolve) => resolveUp = resolve);
  backplane = new redis.RedisBackplane({
    url: redisUrl,
    onEvent(event) {
      if (event.type === "up") resolveUp();
      else console.error(`backplane ${event.type}:`, event);
    },
  });
}

const server = serve<{ subscriber: boolean }>({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 9001),
  backplane,
  upgrade(request) {
    return { data: { subscriber: new URL(request.url).pathname === "/sub" } };
  },
  websocket: {
    open(ws) {
      if (ws.data.subscriber) ws.subscribe(TOPIC);
    },
    message(_ws, data) {
      server.publish(TOPIC, data);
    },
  },
});

const listening: Promise<{ port: number }> | undefined = Reflect.get(server, "listening");
const port = listening ? (await listening).port : server.port;
await up;
await backplane?.settled();
console.log(`listening ${port}`);
await server.finished;

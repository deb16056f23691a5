// edgews broadcast (fan-out) server. The SAME file runs on Deno and on Bun:
//   deno run -A bench/servers/edgews_broadcast.ts
//   bun bench/servers/edgews_broadcast.ts
// (PORT env var, default 9001). Connections to /sub subscribe to one topic; every message
// received (from the load generator's publisher on /pub) is published to that topic with
// server.publish, which encodes the frame once and queues the same bytes for every subscriber.
// Prints `listening <port>` once bound.
import process from "node:process";
import { serve } from "../../mod.ts";

const TOPIC = "bench";

const server = serve<{ subscriber: boolean }>({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 9001),
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
console.log(`listening ${port}`);
await server.finished;

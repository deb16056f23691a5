/**
 * One instance of a scaled-out application, as a child process of the scale-out tests: an edgews
 * server on 127.0.0.1 (port 0) with a RedisBackplane on REDIS_URL. The same file runs on Deno and
 * on Bun.
 *
 * A client names itself and its topics in the URL (`/?id=c7&topics=a,b`) and is subscribed to
 * them when it opens. It can then send commands as JSON text, each answered with
 * `{"ack":op,"seq":seq,"result":…}`:
 * - `{"op":"sub"|"unsub","topic"}`: `ws.subscribe` / `ws.unsubscribe`;
 * - `{"op":"pub","topic","data"|"bytes"}`: `ws.publish` of text `data`, or of binary `bytes` (an
 *   array of byte values);
 * - `{"op":"spub","topic","data"|"bytes"}`: `server.publish`, likewise;
 * - `{"op":"bye","code"}`: the server closes this connection with `code`;
 * - `{"op":"settle"}`: waits for `backplane.settled()`;
 * - `{"op":"stats"}`: the backplane's state and counters, the process's RSS, the connection count;
 *   `{"op":"stats","gc":true}` collects garbage first (Bun.gc, or gc() under Deno's
 *   `--v8-flags=--expose-gc`), so that memory left is memory held.
 * The `pub`/`spub` commands are not acknowledged (so a publisher can stream them).
 *
 * With `CLOSE_PUBLISH=<topic>`, a connection's close callback publishes `left <id>` to that topic
 * after a moment (asynchronously).
 *
 * Prints `listening <port>` once bound, and every backplane event as a line `event <json>`.
 * @module
 */

import process from "node:process";
import { serve } from "../../mod.ts";
import { RedisBackplane } from "../../redis.ts";

interface Peer {
  id: string;
  topics: string[];
}

const backplane = new RedisBackplane({
  url: process.env.REDIS_URL,
  onEvent(event) {
    const { error, ...rest } = event as { error?: Error };
    console.log(`event ${JSON.stringify({ ...rest, error: error?.message })}`);
  },
});

const server = serve<Peer>({
  hostname: "127.0.0.1",
  port: 0,
  backplane,
  upgrade(request) {
    const params = new URL(request.url).searchParams;
    const topics = (params.get("topics") ?? "").split(",").filter((t) => t !== "");
    return { data: { id: params.get("id") ?? "", topics } };
  },
  websocket: {
    open(ws) {
      for (const topic of ws.data.topics) ws.subscribe(topic);
    },
    async close(ws) {
      // With CLOSE_PUBLISH set, an async close callback that publishes (as a chat announces who
      // left): during a shutdown it must still reach the other instances.
      const topic = process.env.CLOSE_PUBLISH;
      if (topic === undefined) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
      server.publish(topic, `left ${ws.data.id}`);
    },
    async message(ws, message) {
      const command = JSON.parse(message as string);
      const data = command.bytes === undefined ? command.data : Uint8Array.from(command.bytes);
      let result: unknown;
      switch (command.op) {
        case "pub":
          ws.publish(command.topic, data);
          return;
        case "spub":
          server.publish(command.topic, data);
          return;
        case "sub":
          result = ws.subscribe(command.topic);
          break;
        case "unsub":
          result = ws.unsubscribe(command.topic);
          break;
        case "bye":
          ws.close(command.code);
          return;
        case "settle":
          await backplane.settled();
          break;
        case "stats":
          if (command.gc) await collectGarbage();
          result = {
            state: backplane.state,
            stats: backplane.stats,
            rss: process.memoryUsage().rss,
            // What the process holds, whatever its allocator keeps: heap plus buffers.
            held: process.memoryUsage().heapUsed + process.memoryUsage().external,
            connections: server.connectionCount,
            buffered: [...server.connections()].map((ws) => [ws.data.id, ws.bufferedAmount]),
          };
          break;
        default:
          throw new Error(`unknown command ${message}`);
      }
      ws.send(JSON.stringify({ ack: command.op, seq: command.seq, result }));
    },
  },
});

console.log(`listening ${server.port}`);

/** Collects garbage twice, a moment apart: buffers' memory is released after the collection. */
async function collectGarbage(): Promise<void> {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  const gc = bun === undefined ? (globalThis as { gc?: () => void }).gc : () => bun.gc(true);
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await server.shutdown();
    process.exit(0);
  });
}

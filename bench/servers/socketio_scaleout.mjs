// Anchor for the scale-out suite: Socket.IO 4 on Node, with `@socket.io/redis-adapter` and the
// `redis` (node-redis) client, as the adapter's README shows first, when REDIS_URL is set.
//   node bench/servers/socketio_scaleout.mjs   (PORT, default 9001; REDIS_URL optional)
// WebSocket transport only (no long-polling, so no upgrade dance; the load generator connects
// straight to /socket.io/?EIO=4&transport=websocket). Sockets connecting with `?role=sub` join
// the room "bench"; every `pub` event (from the load generator's publisher) is emitted to the
// room as `m` with io.to(room).emit, which the Redis adapter also publishes to Redis for the other
// instances (which emit it to their local members of the room). Compression off (the default).
// Prints `listening <port>` once the HTTP server listens and, with Redis, once both Redis
// connections are up and the adapter's subscriptions (made in its constructor) are active.
import http from "node:http";
import process from "node:process";
import { Server } from "socket.io";

const ROOM = "bench";
const port = Number(process.env.PORT ?? 9001);
const redisUrl = process.env.REDIS_URL;

let adapter;
const clients = [];
if (redisUrl) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  for (const client of [pubClient, subClient]) {
    client.on("error", (error) => console.error("redis client error:", error.message));
    clients.push(client);
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);
  // The adapter subscribes in its constructor without handing out the promises; keep them so
  // that `listening` is printed only once Redis has confirmed the subscriptions. (Only these two
  // start-up calls go through the wrappers; nothing on the message path does.)
  const subscribed = [];
  for (const method of ["pSubscribe", "subscribe"]) {
    const original = subClient[method].bind(subClient);
    subClient[method] = (...args) => {
      const promise = original(...args);
      subscribed.push(promise);
      return promise;
    };
  }
  adapter = { createAdapter, pubClient, subClient, subscribed };
}

const httpServer = http.createServer((_req, res) => {
  res.writeHead(404).end();
});
const io = new Server(httpServer, {
  transports: ["websocket"],
  serveClient: false,
  perMessageDeflate: false,
  ...(adapter ? { adapter: adapter.createAdapter(adapter.pubClient, adapter.subClient) } : {}),
});
if (adapter) await Promise.all(adapter.subscribed);

io.on("connection", (socket) => {
  if (socket.handshake.query.role === "sub") socket.join(ROOM);
  socket.on("pub", (payload) => {
    io.to(ROOM).emit("m", payload);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});

const stop = () => {
  io.close();
  for (const client of clients) client.destroy?.();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

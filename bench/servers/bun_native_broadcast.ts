// Anchor: Bun's built-in WebSocket server, broadcast (fan-out). Connections to /sub subscribe to
// one topic; every message received (from the publisher on /pub) goes out with server.publish
// (uWebSockets encodes the frame once for all subscribers). Compression off.
// Run: bun bench/servers/bun_native_broadcast.ts   (PORT env var, default 9001)
import process from "node:process";

type BunSocket = { data: { subscriber: boolean }; subscribe(topic: string): void };
declare const Bun: {
  serve(options: unknown): { port: number; publish(topic: string, data: unknown): number };
};

const TOPIC = "bench";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 9001),
  fetch(
    req: Request,
    srv: { upgrade(req: Request, options: { data: { subscriber: boolean } }): boolean },
  ) {
    const subscriber = new URL(req.url).pathname === "/sub";
    if (srv.upgrade(req, { data: { subscriber } })) return undefined;
    return new Response("websocket only", { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    maxPayloadLength: 64 * 1024 * 1024,
    backpressureLimit: 64 * 1024 * 1024,
    closeOnBackpressureLimit: false,
    open(ws: BunSocket) {
      if (ws.data.subscriber) ws.subscribe(TOPIC);
    },
    message(_ws: BunSocket, data: string | Uint8Array) {
      server.publish(TOPIC, data);
    },
  },
});

console.log(`listening ${server.port}`);

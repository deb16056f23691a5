// Anchor: Bun's built-in WebSocket server (uWebSockets inside), echo, permessage-deflate on
// (the compression suites). Bun compresses a message only when `send` is asked to (its second
// argument), so every echo asks.
// Run: bun bench/servers/bun_native_deflate.ts   (PORT env var, default 9001)
import process from "node:process";

declare const Bun: {
  serve(options: unknown): { port: number };
};

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 9001),
  fetch(req: Request, srv: { upgrade(req: Request): boolean }) {
    if (srv.upgrade(req)) return undefined;
    return new Response("websocket only", { status: 426 });
  },
  websocket: {
    perMessageDeflate: true,
    maxPayloadLength: 64 * 1024 * 1024,
    backpressureLimit: 64 * 1024 * 1024,
    message(
      ws: { send(data: string | Uint8Array, compress?: boolean): number },
      data: string | Uint8Array,
    ) {
      ws.send(data, true);
    },
  },
});

console.log(`listening ${server.port}`);

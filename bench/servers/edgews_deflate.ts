// edgews echo server with permessage-deflate (the compression suites). The SAME file runs on Deno
// and on Bun:
//   deno run -A bench/servers/edgews_deflate.ts
//   bun bench/servers/edgews_deflate.ts
// (PORT env var, default 9001). Prints `listening <port>` once bound.
// Level 1 is edgews's default; threshold 0 so that every echo is compressed, as on the anchors.
import process from "node:process";
import { serve } from "../../mod.ts";

const server = serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 9001),
  perMessageDeflate: { level: 1, threshold: 0 },
  websocket: {
    message(ws, data) {
      ws.send(data);
    },
  },
});

const listening: Promise<{ port: number }> | undefined = Reflect.get(server, "listening");
const port = listening ? (await listening).port : server.port;
console.log(`listening ${port}`);
await server.finished;

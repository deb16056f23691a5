// edgews echo server. The SAME file runs on Deno, Bun and Node:
//   deno run -A bench/servers/edgews.ts
//   bun bench/servers/edgews.ts
//   node bench/servers/edgews.ts
// (PORT env var, default 9001). Prints `listening <port>` once bound.
import process from "node:process";
import { serve } from "../../mod.ts";

const server = serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 9001),
  websocket: {
    message(ws, data) {
      ws.send(data);
    },
  },
});

// serve() returns a server that is already bound; a `listening` promise, if the API grows one,
// is awaited too.
const listening: Promise<{ port: number }> | undefined = Reflect.get(server, "listening");
const port = listening ? (await listening).port : server.port;
console.log(`listening ${port}`);
await server.finished;

/**
 * Echo server: every message comes back as it came (text as text, binary as binary), and `/`
 * serves a small page to try it from a browser.
 *
 *   npx deno run --allow-net --allow-env examples/echo.ts
 *   npx bun run examples/echo.ts
 *
 * PORT sets the port (default 8080); REUSE_PORT=1 listens with SO_REUSEPORT (see
 * examples/cluster.ts). Ctrl-C or SIGTERM shuts down gracefully.
 * @module
 */

import { serve } from "../mod.ts";
import { env } from "./_env.ts";
import { shutdownOn } from "./_shutdown.ts";
import { ECHO_PAGE } from "./echo_page.ts";

const server = serve({
  hostname: "127.0.0.1",
  port: Number(env("PORT") ?? 8080),
  reusePort: env("REUSE_PORT") === "1",
  fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname !== "/") return new Response("Not found\n", { status: 404 });
    return new Response(ECHO_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
  },
  websocket: {
    message(ws, message) {
      ws.send(message);
    },
  },
});

console.log(
  `echo server on ws://${server.hostname}:${server.port}/ (page at http://${server.hostname}:${server.port}/)`,
);

shutdownOn(server);

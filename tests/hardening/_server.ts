/**
 * An edgews echo server in its own process, for the tests that measure the server's memory:
 * started on the runtime the test runs on, with the garbage collector exposed.
 *
 *   deno run -A --v8-flags=--expose-gc tests/hardening/_server.ts '<json ServeOptions>'
 *   bun tests/hardening/_server.ts '<json ServeOptions>'
 *
 * Prints `LISTENING <port>`. `GET /stats` collects garbage, then answers with JSON: RSS, heap,
 * connection count, what `send` returned so far, the largest `bufferedAmount` seen right after a
 * send, and the close codes reported. Exits by itself after `maxMs` (default 120 s).
 * @module
 */

import process from "node:process";
import { readdirSync } from "node:fs";
import { serve, type ServeOptions, type WebSocketServer } from "../../mod.ts";

// `maxMs` is this script's own setting: serve() refuses options it does not know.
const { maxMs, ...options }: ServeOptions & { maxMs?: number } = JSON.parse(
  process.argv[2] ?? "{}",
);
const statuses: Record<string, number> = { sent: 0, backpressure: 0, dropped: 0 };
const closeCodes: Record<string, number> = {};
let maxBuffered = 0;
let drains = 0;

function collectGarbage(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  for (let i = 0; i < 3; i++) {
    if (g.Bun !== undefined) g.Bun.gc(true);
    else g.gc?.();
  }
}

/** Open file descriptors (Linux), or -1 where /proc is missing. */
function openFiles(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return -1;
  }
}

const server: WebSocketServer = serve({
  hostname: "127.0.0.1",
  port: 0,
  ...options,
  fetch(request): Response {
    if (new URL(request.url).pathname !== "/stats") return new Response("", { status: 404 });
    collectGarbage();
    const memory = process.memoryUsage();
    return Response.json({
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      openFiles: openFiles(),
      connectionCount: server.connectionCount,
      statuses,
      maxBuffered,
      drains,
      closeCodes,
      gc: "gc" in globalThis || "Bun" in globalThis,
    });
  },
  websocket: {
    message(ws, message) {
      statuses[ws.send(message)]++;
      if (ws.bufferedAmount > maxBuffered) maxBuffered = ws.bufferedAmount;
    },
    drain() {
      drains++;
    },
    close(_ws, code) {
      closeCodes[code] = (closeCodes[code] ?? 0) + 1;
    },
  },
});
console.log(`LISTENING ${server.port}`);
setTimeout(() => process.exit(3), maxMs ?? 120_000);

/**
 * Bun's native WebSocket server (`Bun.serve({ websocket })`) in a child process, for the client
 * tests; speaks the protocol described in edgews_echo_server.ts.
 *
 *   bun tests/peers/bun_native_echo_server.ts [--tls]
 * @module
 */

import process from "node:process";
import { readFileSync } from "node:fs";

interface BunWs {
  send(data: string | Uint8Array): number;
  ping(data?: string): number;
  close(code?: number, reason?: string): void;
  readonly data: { protocol: string };
}
interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    tls?: { cert: string; key: string };
    fetch(
      request: Request,
      server: {
        upgrade(
          request: Request,
          options: { headers?: Record<string, string>; data: { protocol: string } },
        ): boolean;
      },
    ): Response | undefined;
    websocket: {
      maxPayloadLength: number;
      open(ws: BunWs): void;
      message(ws: BunWs, message: string | Uint8Array): void;
      pong(ws: BunWs, payload: Uint8Array): void;
      close(ws: BunWs, code: number, reason: string): void;
    };
  }): { port: number };
}

const Bun = (globalThis as unknown as { Bun: BunServe }).Bun;
const tls = process.argv.includes("--tls")
  ? {
    cert: readFileSync(new URL("../fixtures/tls/localhost.pem", import.meta.url), "utf8"),
    key: readFileSync(new URL("../fixtures/tls/localhost.key", import.meta.url), "utf8"),
  }
  : undefined;
const decoder = new TextDecoder();
const event = (data: Record<string, unknown>) => console.log(JSON.stringify(data));

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  tls,
  fetch(request, server) {
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",")
      .map((p) => p.trim());
    const protocol = offered.includes("chat") ? "chat" : "";
    const headers = protocol === "" ? undefined : { "Sec-WebSocket-Protocol": protocol };
    if (server.upgrade(request, { headers, data: { protocol } })) return undefined;
    return new Response("not a WebSocket request\n", { status: 400 });
  },
  websocket: {
    maxPayloadLength: 64 * 1024 * 1024,
    open(ws) {
      event({ event: "open", protocol: ws.data.protocol });
    },
    message(ws, message) {
      if (message === "cmd:close") ws.close(4001, "server bye");
      else if (message === "cmd:ping") ws.ping("srv-ping");
      else ws.send(message);
    },
    pong(ws, payload) {
      const text = decoder.decode(payload);
      event({ event: "pong", payload: text });
      ws.send(`pong-seen:${text}`);
    },
    close(_ws, code, reason) {
      event({ event: "close", code, reason });
    },
  },
});
console.log(`LISTENING ${server.port}`);
setTimeout(() => process.exit(0), 120_000);

/**
 * Starting edgews servers for tests: on 127.0.0.1, on a free port, with whatever handler and
 * limits a test needs. The server runs on the runtime the test runs on (Deno under `deno test`,
 * Bun under `bun test`).
 * @module
 */

import { serve, type ServeOptions, type WebSocketServer } from "../../mod.ts";

/** An echo handler: text back as text, binary back as binary. */
export const echoHandler = {
  message(ws: { send(data: string | Uint8Array): unknown }, message: string | Uint8Array) {
    ws.send(message);
  },
};

/** Starts a server on 127.0.0.1 with a free port; echo unless `options.websocket` says otherwise. */
export function startServer<T = undefined>(options: ServeOptions<T> = {}): WebSocketServer<T> {
  return serve<T>({
    hostname: "127.0.0.1",
    port: 0,
    websocket: echoHandler,
    ...options,
  });
}

/** The runtime running this test. */
export const RUNTIME: "deno" | "bun" = "Bun" in globalThis ? "bun" : "deno";

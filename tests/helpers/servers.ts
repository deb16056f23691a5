/**
 * Starting edgews servers for tests: on 127.0.0.1, on a free port, with whatever handler and
 * limits a test needs. The server runs on the runtime the test runs on (Deno under `deno test`,
 * Bun under `bun test`, Node under `node --test`).
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

/** A runtime edgews runs on. */
export type Runtime = "deno" | "bun" | "node";

/** The runtime running this test. */
export const RUNTIME: Runtime = "Bun" in globalThis
  ? "bun"
  : "Deno" in globalThis
  ? "deno"
  : "node";

/** The runtimes other than this test's, for tests that run edgews on one against another. */
export const OTHER_RUNTIMES: Runtime[] = (["deno", "bun", "node"] as const).filter((runtime) =>
  runtime !== RUNTIME
);

/**
 * `serve()`: a {@link WebSocketServer} on the current runtime's adapter.
 * @module
 */

import { type ServeOptions, WebSocketServer } from "../server.ts";
import { runtimeListen } from "./detect.ts";

/**
 * Starts a WebSocket server on Deno or Bun and returns it, already listening.
 *
 * @example Echo server
 * ```ts
 * import { serve } from "@edgews/edgews";
 *
 * serve({
 *   hostname: "127.0.0.1",
 *   port: 8080,
 *   websocket: {
 *     message(ws, message) {
 *       ws.send(message); // text back as text, binary as binary
 *     },
 *   },
 * });
 * ```
 */
export function serve<T = undefined>(options: ServeOptions<T> = {}): WebSocketServer<T> {
  return new WebSocketServer(runtimeListen(), options);
}

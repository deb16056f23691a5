/**
 * `serve()`: a {@link WebSocketServer} on the current runtime's adapter.
 * @module
 */

import { type ServeOptions, WebSocketServer } from "../server.ts";
import { runtimeListen } from "./detect.ts";

/**
 * Starts a WebSocket server on Deno or Bun and returns it, already listening.
 *
 * Throws a `TypeError` or `RangeError` for a bad option (the message names the option, the value
 * and what is allowed), and an `Error` when it cannot listen, worded the same on both runtimes:
 * "cannot listen on 127.0.0.1:8080: the address is already in use" (or "permission denied", "the
 * host name could not be resolved", ...), with the runtime's own error as `cause` and the system
 * error code (`EADDRINUSE`, `EACCES`, ...) as `code`.
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

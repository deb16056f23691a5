/**
 * `connect()`: a client {@link WebSocketConnection} over the current runtime's adapter.
 * @module
 */

import { type ConnectOptions, connectWith } from "../client.ts";
import type { WebSocketConnection } from "../connection.ts";
import { runtimeDial } from "./detect.ts";

/**
 * Opens a WebSocket to a `ws://` or `wss://` URL, on Deno or Bun, and resolves once the handshake
 * has succeeded. Rejects with a `WebSocketHandshakeError` (carrying the HTTP status, headers and
 * body when the server answered) if it does not.
 *
 * @example
 * ```ts
 * import { connect } from "@edgews/edgews";
 *
 * const ws = await connect("ws://127.0.0.1:8080/", { protocols: ["chat"] });
 * ws.send("hello");
 * for await (const message of ws) {
 *   console.log(message);
 *   ws.close(1000, "done");
 * }
 * ```
 */
export function connect<T = undefined>(
  url: string | URL,
  options: ConnectOptions<T> = {},
): Promise<WebSocketConnection<T>> {
  return connectWith(runtimeDial(), url, options);
}

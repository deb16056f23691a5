/**
 * `connect()`: a client {@link WebSocketConnection} over the current runtime's adapter.
 * @module
 */

import { type ConnectOptions, connectWith } from "../client.ts";
import type { WebSocketConnection } from "../connection/websocket.ts";
import { runtimeDial } from "./detect.ts";

/**
 * Opens a WebSocket to a `ws://` or `wss://` URL, on Deno or Bun, and resolves once the handshake
 * has succeeded. `http://` and `https://` URLs are taken as `ws://` and `wss://`, as browsers do.
 *
 * Rejects with:
 * - a `WebSocketHandshakeError` when there is no WebSocket at the end: the server refused the
 *   upgrade (the error carries its HTTP status, headers and body) or answered wrongly; or the
 *   connection failed, worded the same on both runtimes with the runtime's error as `cause`
 *   ("could not connect to ws://127.0.0.1:8080/: the connection was refused ...", "... the TLS
 *   handshake failed: ..."); or `timeout` passed ("timed out connecting to 127.0.0.1:8080" before
 *   TCP connected, "connected to 127.0.0.1:8080, but the TLS handshake did not complete within
 *   10000 ms" during TLS, "connected to 127.0.0.1:8080, but the server did not complete the
 *   WebSocket handshake within 10000 ms" after);
 * - the `signal`'s reason when it is aborted first, as `fetch` does: a `DOMException` named
 *   `AbortError` from `controller.abort()`, `TimeoutError` from `AbortSignal.timeout()`;
 * - a `TypeError` or `RangeError` for a bad option, a `SyntaxError` for a URL that is not a
 *   WebSocket URL.
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

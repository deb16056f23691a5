/**
 * Errors that edgews throws to the application.
 * @module
 */

/**
 * A client handshake that did not end in an open WebSocket: the server answered something other
 * than a valid 101, or the connection failed, timed out or was aborted first. When the server
 * answered, its status, headers and (up to 64 KiB of) body are here.
 */
export class WebSocketHandshakeError extends Error {
  /** The server's HTTP status, when it answered. */
  readonly status: number | undefined;
  /** The server's response headers, when it answered. */
  readonly headers: Headers | undefined;
  /** The server's response body as text, when it answered with one. */
  readonly body: string | undefined;

  /** Creates the error; `response` is the server's answer, when there was one. */
  constructor(
    message: string,
    response?: { status: number; headers: Headers; body: string },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "WebSocketHandshakeError";
    this.status = response?.status;
    this.headers = response?.headers;
    this.body = response?.body;
  }
}

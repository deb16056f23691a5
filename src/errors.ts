/**
 * Errors that edgews throws to the application.
 * @module
 */

/**
 * A client handshake that did not end in an open WebSocket: the server answered something other
 * than a valid 101, or the connection failed or timed out first. When the server answered, its
 * status, headers and (up to 64 KiB of) body are here; when it did not, `cause` is the runtime's
 * own error, if there was one (a timeout has none). An aborted `signal` is not this error: that
 * rejects with the signal's reason, as `fetch` does.
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

/**
 * @internal How a runtime adapter reports a failed dial: `message` is the reason in edgews's
 * words, the same on every runtime ("the connection was refused ..."), and `cause` the runtime's
 * own error. The client puts the reason after "could not connect to URL: " in a
 * {@link WebSocketHandshakeError} with the same `cause`; applications never see this class.
 */
export class DialFailure extends Error {
  /** `reason` in edgews's words; `cause` is the runtime's error. */
  constructor(reason: string, cause: unknown) {
    super(reason, { cause });
    this.name = "DialFailure";
  }
}

/**
 * The client: dial (through a runtime adapter), run the opening handshake, and hand the socket to
 * a connection ({@link WebSocketConnection}) in the client role (masking every frame, refusing masked ones).
 * Knows nothing of Deno or Bun: the adapter's dial function is passed in.
 * @module
 */

import { Connection } from "./connection/connection.ts";
import {
  type ConnectionOptions,
  resolveConnectionOptions,
} from "./connection/connection_options.ts";
import type { WebSocketConnection, WebSocketHandler } from "./connection/websocket.ts";
import { DialFailure, WebSocketHandshakeError } from "./errors.ts";
import { generateClientKey } from "./handshake/accept_key.ts";
import { buildUpgradeRequest, checkUpgradeResponse } from "./handshake/client_handshake.ts";
import {
  clientOffer,
  type PerMessageDeflateOptions,
  resolveDeflateOptions,
} from "./handshake/permessage_deflate.ts";
import {
  type HeaderFields,
  latin1,
  listHasToken,
  parseResponseHead,
} from "./handshake/http_head.ts";
import { readHead } from "./connection/read_head.ts";
import { decodeChunks } from "./handshake/chunked_body.ts";
import { concatBytes, ignore } from "./protocol/bytes.ts";
import type { ClientTlsOptions, DialFunction, Transport } from "./transport.ts";
import { checkConnectOptions } from "./options.ts";

/**
 * Options for {@link connect}. Limits and timers are the same as a server connection's. They are
 * checked before connecting, as `serve()`'s are: a bad one rejects with a `TypeError` or
 * `RangeError` naming it.
 */
export interface ConnectOptions<T = undefined> extends ConnectionOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: readonly string[];
  /** Extra request headers, e.g. `Origin`, `Authorization`, `Cookie`. */
  headers?: HeadersInit;
  /**
   * How long connecting plus the handshake may take, in ms; then `connect` rejects with a
   * `WebSocketHandshakeError` that says which step did not finish. Defaults to 10 s.
   */
  timeout?: number;
  /**
   * Aborts the connection attempt (not an open connection: use `close()` for that). `connect`
   * then rejects with the signal's reason, as `fetch` does: an `AbortError` `DOMException` unless
   * the reason was given.
   */
  signal?: AbortSignal;
  /** TLS settings for `wss://`: extra CA certificates, the name to verify. */
  tls?: ClientTlsOptions;
  /** Callbacks, as on the server. Without `message`, iterate the connection instead. */
  websocket?: WebSocketHandler<T, WebSocketConnection<T>>;
  /** Application data, available as `ws.data`. */
  data?: T;
  /** Largest response head accepted, in bytes. Defaults to 16 KiB. */
  maxHeaderBytes?: number;
  /**
   * Offer permessage-deflate (RFC 7692): `true` for the defaults, or settings. Off by default
   * (as Bun's client; `ws` offers it by default). `ws.extensions` says whether the server agreed.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

const DEFAULT_TIMEOUT = 10_000;
const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
const MAX_HEADERS = 100;
/** How much of a refusal's body to keep for the error. */
const MAX_ERROR_BODY = 64 * 1024;

/** Connects with the given adapter; `connect()` passes the current runtime's. */
export async function connectWith<T = undefined>(
  dial: DialFunction,
  url: string | URL,
  options: ConnectOptions<T> = {},
): Promise<WebSocketConnection<T>> {
  checkConnectOptions(url, options);
  const target = parseWebSocketUrl(url);
  const key = generateClientKey();
  const protocols = options.protocols ?? [];
  const deflateOptions = resolveDeflateOptions(options.perMessageDeflate);
  const request = buildUpgradeRequest(
    target,
    key,
    protocols,
    new Headers(options.headers),
    deflateOptions === null ? "" : clientOffer(deflateOptions),
  );
  const signal = options.signal;
  signal?.throwIfAborted();

  let transport: Transport | null = null;
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  let failure: unknown = null;
  const drop = () => transport?.drop();
  // A timeout or an abort rejects `failed`, which the dial races against; once the socket
  // exists, dropping it ends whatever read is pending.
  let rejectFailed!: (reason: unknown) => void;
  const failed = new Promise<never>((_, reject) => rejectFailed = reject);
  failed.catch(ignore);
  const abort = (reason: unknown) => {
    failure ??= reason;
    rejectFailed(failure);
    drop();
  };
  const port = Number(target.port || (target.protocol === "wss:" ? 443 : 80));
  const address = `${target.hostname}:${port}`; // URL.hostname keeps IPv6's brackets
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  // Which step the timeout cuts short, so that its message says where the time went.
  let step: "tcp" | "tls" | "websocket" = "tcp";
  const timer = setTimeout(() => {
    abort(
      new WebSocketHandshakeError(
        step === "tcp"
          ? `timed out connecting to ${address}: no TCP connection within ${timeout} ms`
          : step === "tls"
          ? `connected to ${address}, but the TLS handshake did not complete within ${timeout} ms`
          : `connected to ${address}, but the server did not complete the WebSocket handshake ` +
            `within ${timeout} ms`,
      ),
    );
  }, timeout);
  // The abort reason as is (an AbortError DOMException unless the caller gave one), as fetch does.
  const onAbort = () => abort(signal?.reason ?? new DOMException("aborted", "AbortError"));
  signal?.addEventListener("abort", onAbort, { once: true });

  try {
    const tls = target.protocol === "wss:";
    const dialing = dial({
      hostname: target.hostname.startsWith("[") ? target.hostname.slice(1, -1) : target.hostname,
      port,
      tls: tls ? options.tls ?? {} : undefined,
      onConnected: () => step = tls ? "tls" : "websocket",
    });
    transport = await Promise.race([dialing, failed]).catch((error) => {
      dialing.then((late) => late.drop(), ignore); // a socket that connects after the deadline
      // The adapter has worded the reason the same on every runtime (a DialFailure); its cause
      // is the runtime's own error.
      const dialFailed = error instanceof DialFailure;
      throw failure ?? new WebSocketHandshakeError(
        `could not connect to ${target.href}: ${error instanceof Error ? error.message : error}`,
        undefined,
        { cause: dialFailed ? error.cause : error },
      );
    });
    step = "websocket";
    reader = transport.readable.getReader();
    writer = transport.writable.getWriter();
    if (failure !== null) throw failure;
    writer.write(request).catch(ignore);

    let answeredWithTls = false;
    const received = await readHead(
      reader,
      options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
      (bytes) => {
        // A TLS record (an alert, say) in answer to plain HTTP: a wss:// server.
        answeredWithTls = bytes.length >= 2 && (bytes[0] === 0x15 || bytes[0] === 0x16) &&
          bytes[1] === 0x03;
        return bytes.length < 5 || latin1(bytes, 0, 5) === "HTTP/";
      },
      { status: 0, message: "the server did not answer with HTTP" },
    );
    if (failure !== null) throw failure;
    if (received === null) {
      throw new WebSocketHandshakeError("the server closed the connection during the handshake");
    }
    if ("status" in received) {
      throw new WebSocketHandshakeError(
        answeredWithTls
          ? `the server at ${address} answered with TLS, not HTTP (is it wss:// rather than ws://?)`
          : received.message,
      );
    }
    const response = parseResponseHead(received.head, MAX_HEADERS);
    if ("message" in response) {
      throw new WebSocketHandshakeError(`invalid response: ${response.message}`);
    }

    if (response.status !== 101) {
      const body = await readErrorBody(reader, received.rest, response.status, response.headers);
      throw new WebSocketHandshakeError(
        `the server refused the upgrade with ${response.status} ${response.statusText}`.trim(),
        { status: response.status, headers: response.headers.toHeaders(), body },
      );
    }
    const check = await checkUpgradeResponse(response, key, protocols, deflateOptions);
    if (!check.ok) {
      throw new WebSocketHandshakeError(check.message, {
        status: 101,
        headers: response.headers.toHeaders(),
        body: "",
      });
    }
    if (failure !== null) throw failure;

    const ws = new Connection<T>({
      transport,
      reader,
      writer,
      role: "client",
      protocol: check.protocol,
      extensions: check.extensions,
      deflate: check.deflate,
      data: options.data as T,
      handler: options.websocket ?? {},
      options: resolveConnectionOptions(options),
      topics: null,
      rateLimit: null,
    });
    ws.start(received.rest);
    return ws;
  } catch (error) {
    drop();
    throw failure ?? error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Checks and normalizes a WebSocket URL: ws: or wss: (http: and https: are mapped, as browsers
 * do), no fragment. A malformed URL is a SyntaxError, as for `new WebSocket(url)`.
 */
function parseWebSocketUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch (error) {
    // The runtimes word this differently ("Invalid URL: 'x'", "Invalid URL").
    throw new SyntaxError(`connect(): ${JSON.stringify(String(input))} is not a valid URL`, {
      cause: error,
    });
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new SyntaxError(`a WebSocket URL must use ws: or wss:, not ${url.protocol}`);
  }
  if (url.hash !== "") throw new SyntaxError("a WebSocket URL must not have a fragment");
  return url;
}

/**
 * The body of a refusal, for the error: none for 1xx/204/304, the chunks of a chunked body, up to
 * its Content-Length, or until close; capped. (A chunked body on a kept-alive connection has no
 * close to wait for: its last chunk ends it.)
 */
async function readErrorBody(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  rest: Uint8Array,
  status: number,
  headers: HeaderFields,
): Promise<string> {
  if (status < 200 || status === 204 || status === 304) return "";
  const chunked = listHasToken(headers.get("transfer-encoding"), "chunked");
  const declared = Number(headers.get("content-length") ?? NaN);
  const wanted = Math.min(
    !chunked && Number.isSafeInteger(declared) ? declared : MAX_ERROR_BODY,
    MAX_ERROR_BODY,
  );
  let body = rest;
  let decoded = chunked ? decodeChunks(body) : null;
  // Raw bytes are capped too, chunk framing included, so a stream of garbage cannot grow forever.
  while (
    decoded === null
      ? body.length < wanted
      : !decoded.complete && decoded.length < wanted && body.length < 2 * MAX_ERROR_BODY
  ) {
    const next = await reader.read().catch(() => null);
    if (next === null || next.done) break;
    body = concatBytes([body, next.value]);
    if (chunked) decoded = decodeChunks(body);
  }
  if (decoded !== null) body = decoded.data;
  return new TextDecoder().decode(body.subarray(0, wanted));
}

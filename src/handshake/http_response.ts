/**
 * Writing HTTP/1.1 responses on the raw socket: the 101 that starts a WebSocket, the errors that
 * refuse one, and whatever `Response` an application's `fetch` handler returns.
 * @module
 */

import { concatBytes } from "../protocol/bytes.ts";
import type { HttpError } from "./http_head.ts";

const encoder = new TextEncoder();

const STATUS_TEXT: Record<number, string> = {
  101: "Switching Protocols",
  200: "OK",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  414: "URI Too Long",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** The reason phrase for a status code, or "Unknown". */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? "Unknown";
}

/** Serializes a status line, headers and optional body. */
export function serializeResponse(
  status: number,
  headers: Headers,
  body: Uint8Array | null,
  reason: string = statusText(status),
): Uint8Array {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  // Headers iterates set-cookie entries one by one and joins other repeats, as HTTP allows.
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  head += "\r\n";
  const headBytes = encoder.encode(head);
  if (body === null || body.length === 0) return headBytes;
  return concatBytes([headBytes, body]);
}

/**
 * Serializes an application's `Response` for a connection that closes after it (keep-alive is
 * not offered). Framing headers are ours to set: the body is read whole and sent with its length.
 */
export async function serializeFetchResponse(
  response: Response,
  isHead: boolean,
): Promise<Uint8Array> {
  const body = new Uint8Array(await response.arrayBuffer());
  const headers = new Headers(response.headers);
  headers.delete("transfer-encoding");
  headers.set("content-length", String(body.length));
  headers.set("connection", "close");
  return serializeResponse(
    response.status,
    headers,
    isHead ? null : body,
    response.statusText || statusText(response.status),
  );
}

/** A plain-text error response that closes the connection, with extra headers if given. */
export function errorResponse(error: HttpError & { headers?: HeadersInit }): Uint8Array {
  const body = encoder.encode(error.message + "\n");
  const headers = new Headers(error.headers);
  headers.set("content-type", "text/plain; charset=utf-8");
  headers.set("content-length", String(body.length));
  headers.set("connection", "close");
  return serializeResponse(error.status, headers, body);
}

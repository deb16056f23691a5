/**
 * The server side of the opening handshake (RFC 6455 §4.2): is this request an upgrade, is it a
 * valid one, which subprotocol to answer with, and the 101 response.
 * @module
 */

import { computeAcceptKey, isValidClientKey } from "./accept_key.ts";
import { type HttpError, isToken, listHasToken, parseList, type RequestHead } from "./http_head.ts";
import { serializeResponse } from "./http_response.ts";

/** A refusal with the headers it must carry (426 names the version we speak). */
export interface HandshakeError extends HttpError {
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** A valid upgrade request, reduced to what the handshake needs. */
export interface UpgradeRequest {
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** The subprotocols the client offered, in its order of preference. */
  protocols: string[];
}

/** Whether the request asks for a WebSocket at all: its `Upgrade` list names `websocket`. */
export function isWebSocketUpgrade(head: RequestHead): boolean {
  return listHasToken(head.headers.get("upgrade"), "websocket");
}

/** Checks an upgrade request against RFC 6455 §4.2.1. */
export function validateUpgradeRequest(head: RequestHead): UpgradeRequest | HandshakeError {
  if (head.method !== "GET") return { status: 400, message: "WebSocket upgrades must use GET" };
  if (head.version !== "HTTP/1.1") {
    return { status: 400, message: "WebSocket upgrades need HTTP/1.1" };
  }
  const host = head.headers.get("host");
  if (host === null || host === "" || host.includes(",")) {
    return { status: 400, message: "Missing or repeated Host header" };
  }
  if (!listHasToken(head.headers.get("connection"), "upgrade")) {
    return { status: 400, message: "Connection header must include 'upgrade'" };
  }
  const version = head.headers.get("sec-websocket-version");
  if (version !== "13") {
    return {
      status: 426,
      message: "Unsupported WebSocket version; this server speaks 13",
      headers: { "sec-websocket-version": "13" },
    };
  }
  const key = head.headers.get("sec-websocket-key");
  if (key === null || !isValidClientKey(key)) {
    return { status: 400, message: "Sec-WebSocket-Key must be base64 of 16 bytes" };
  }
  const protocols = parseList(head.headers.get("sec-websocket-protocol"));
  if (!protocols.every(isToken)) {
    return { status: 400, message: "Sec-WebSocket-Protocol must be a list of tokens" };
  }
  return { key, protocols };
}

/**
 * Picks the subprotocol: the first of the client's offers that the server supports (the client
 * lists them by preference). Null when there is no match.
 */
export function selectSubprotocol(
  offered: readonly string[],
  supported: readonly string[],
): string | null {
  for (const protocol of offered) {
    if (supported.includes(protocol)) return protocol;
  }
  return null;
}

/** The `101 Switching Protocols` response, with the chosen protocol and any extra headers. */
export async function acceptResponse(
  key: string,
  protocol: string,
  extraHeaders: Headers,
): Promise<Uint8Array> {
  const headers = new Headers(extraHeaders);
  headers.set("upgrade", "websocket");
  headers.set("connection", "Upgrade");
  headers.set("sec-websocket-accept", await computeAcceptKey(key));
  if (protocol !== "") headers.set("sec-websocket-protocol", protocol);
  else headers.delete("sec-websocket-protocol");
  return serializeResponse(101, headers, null);
}

/**
 * The server side of the opening handshake (RFC 6455 §4.2): is this request an upgrade, is it a
 * valid one, which subprotocol to answer with, and the 101 response.
 * @module
 */

import { computeAcceptKey, isValidClientKey } from "./accept_key.ts";
import { type HttpError, isToken, listHasToken, parseList, type RequestHead } from "./http_head.ts";

const encoder = new TextEncoder();

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

/** The fields of a 101 that are the handshake's to set: an application's copies are left out. */
const HANDSHAKE_FIELDS = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/**
 * The `101 Switching Protocols` response, with the chosen protocol and extensions ("" for none)
 * and the application's extra headers, if any (its own handshake fields are ignored). Written as
 * one string: every handshake sends one, and a `Headers` to build it would cost more than the
 * rest of the response.
 */
export async function acceptResponse(
  key: string,
  protocol: string,
  extensions: string,
  extraHeaders: Headers | null,
): Promise<Uint8Array> {
  let head = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
    `sec-websocket-accept: ${await computeAcceptKey(key)}\r\n`;
  if (protocol !== "") head += `sec-websocket-protocol: ${protocol}\r\n`;
  if (extensions !== "") head += `sec-websocket-extensions: ${extensions}\r\n`;
  if (extraHeaders !== null) {
    // Headers iterates set-cookie entries one by one and joins other repeats, as HTTP allows.
    for (const [name, value] of extraHeaders) {
      if (!HANDSHAKE_FIELDS.has(name)) head += `${name}: ${value}\r\n`;
    }
  }
  return encoder.encode(head + "\r\n");
}

/**
 * The client side of the opening handshake (RFC 6455 §4.1): the upgrade request, and the checks
 * on the server's answer.
 * @module
 */

import { computeAcceptKey } from "./accept_key.ts";
import { isToken, listHasToken, type ResponseHead } from "./http_head.ts";
import {
  checkServerResponse,
  type DeflateAgreement,
  type PerMessageDeflateOptions,
} from "./permessage_deflate.ts";

/** Headers the handshake sets itself; an application may not override them. */
const RESERVED_HEADERS = [
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
];

const encoder = new TextEncoder();

/**
 * The upgrade request for `url` (ws: or wss:). `headers` are the application's extra headers
 * (`Origin`, `Authorization`, cookies); a reserved header among them is a TypeError.
 */
export function buildUpgradeRequest(
  url: URL,
  key: string,
  protocols: readonly string[],
  headers: Headers,
  extensions = "",
): Uint8Array {
  for (const name of RESERVED_HEADERS) {
    if (headers.has(name)) throw new TypeError(`the ${name} header is set by the handshake`);
  }
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new SyntaxError(`subprotocol "${protocol}" is not a token`);
  }
  if (new Set(protocols).size !== protocols.length) {
    throw new SyntaxError("subprotocols must not repeat");
  }
  let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\n` +
    `host: ${url.host}\r\n` +
    "upgrade: websocket\r\n" +
    "connection: Upgrade\r\n" +
    `sec-websocket-key: ${key}\r\n` +
    "sec-websocket-version: 13\r\n";
  if (protocols.length > 0) head += `sec-websocket-protocol: ${protocols.join(", ")}\r\n`;
  if (extensions !== "") head += `sec-websocket-extensions: ${extensions}\r\n`;
  // Headers has already refused names and values that could split a line.
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  return encoder.encode(head + "\r\n");
}

/** What the checks on a 101 conclude. */
export type UpgradeResponseCheck =
  | { ok: true; protocol: string; extensions: string; deflate: DeflateAgreement | null }
  | { ok: false; message: string };

/**
 * Checks a `101 Switching Protocols` against RFC 6455 §4.1: `Upgrade: websocket`,
 * `Connection: upgrade`, the accept key for our key, a subprotocol only if we offered it, and no
 * extension we did not offer.
 */
export async function checkUpgradeResponse(
  response: ResponseHead,
  key: string,
  offeredProtocols: readonly string[],
  offeredDeflate: Required<PerMessageDeflateOptions> | null = null,
): Promise<UpgradeResponseCheck> {
  const headers = response.headers;
  if (!listHasToken(headers.get("upgrade"), "websocket")) {
    return { ok: false, message: "the 101 response lacks 'Upgrade: websocket'" };
  }
  if (!listHasToken(headers.get("connection"), "upgrade")) {
    return { ok: false, message: "the 101 response lacks 'Connection: upgrade'" };
  }
  const accept = headers.get("sec-websocket-accept");
  if (accept === null) return { ok: false, message: "the 101 response lacks Sec-WebSocket-Accept" };
  if (accept !== await computeAcceptKey(key)) {
    return { ok: false, message: "Sec-WebSocket-Accept does not match the key sent" };
  }
  const protocol = headers.get("sec-websocket-protocol") ?? "";
  if (protocol !== "" && !offeredProtocols.includes(protocol)) {
    return {
      ok: false,
      message: `the server chose subprotocol "${protocol}", which was not offered`,
    };
  }
  const extensions = headers.get("sec-websocket-extensions") ?? "";
  const deflate = checkServerResponse(extensions, offeredDeflate);
  if (!deflate.ok) return deflate;
  return {
    ok: true,
    protocol,
    extensions: deflate.agreement === null ? "" : extensions,
    deflate: deflate.agreement,
  };
}

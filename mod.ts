/**
 * edgews: a conformant WebSocket (RFC 6455) server and client for Deno and Bun, from one source
 * tree.
 *
 * ```ts
 * import { serve } from "@edgews/edgews";
 *
 * const server = serve({
 *   port: 8080,
 *   websocket: {
 *     open(ws) { ws.send("hello"); },
 *     message(ws, message) { ws.send(message); },
 *     close(ws, code, reason) { console.log("closed", code, reason); },
 *   },
 * });
 * await server.finished;
 * ```
 *
 * Messages arrive as `string` (text) or `Uint8Array` (binary). Code that prefers to pull leaves
 * out `message` and iterates: `for await (const message of ws) { ... }`.
 *
 * @module
 */

export { serve } from "./src/runtime/serve.ts";
export { connect } from "./src/runtime/connect.ts";
export type { ConnectOptions } from "./src/client.ts";
export { WebSocketHandshakeError } from "./src/errors.ts";
export { allowOrigins, type AllowOriginsOptions } from "./src/origin.ts";
export type {
  RequestInfo,
  ServeOptions,
  ShutdownOptions,
  UpgradeInfo,
  UpgradeOptions,
  UpgradeResult,
  WebSocketServer,
} from "./src/server.ts";
export {
  type CloseInfo,
  type Message,
  ReadyState,
  type SendData,
  type SendOptions,
  type SendStatus,
  type ServerWebSocket,
  type WebSocketConnection,
  type WebSocketHandler,
} from "./src/connection/websocket.ts";
export {
  type ConnectionOptions,
  DEFAULT_CONNECTION_OPTIONS,
} from "./src/connection/connection_options.ts";
export type { RateLimit } from "./src/connection/rate_limit.ts";
export type { Backplane, BackplaneReceipt } from "./src/backplane.ts";
export { CloseCode, isValidCloseCode } from "./src/protocol/close_codes.ts";
export type { PerMessageDeflateOptions } from "./src/handshake/permessage_deflate.ts";
export type { ClientTlsOptions, NetAddress, TlsCertificate } from "./src/transport.ts";

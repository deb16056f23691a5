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
export {
  type RequestInfo,
  type ServeOptions,
  type ShutdownOptions,
  type UpgradeInfo,
  type UpgradeOptions,
  type UpgradeResult,
  WebSocketServer,
} from "./src/server.ts";
export {
  type CloseInfo,
  type ConnectionOptions,
  DEFAULT_CONNECTION_OPTIONS,
  type Message,
  ReadyState,
  type SendStatus,
  WebSocketConnection,
  type WebSocketHandler,
} from "./src/connection/connection.ts";
export type { SendData } from "./src/connection/message_frame.ts";
export type { Backplane, BackplaneReceipt } from "./src/backplane.ts";
export { CloseCode, isValidCloseCode } from "./src/protocol/close_codes.ts";
export type { PerMessageDeflateOptions } from "./src/handshake/permessage_deflate.ts";
export type { SendOptions } from "./src/connection/compression.ts";
export type { ClientTlsOptions, NetAddress, TlsCertificate } from "./src/transport.ts";

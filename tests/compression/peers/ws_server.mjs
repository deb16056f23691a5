// node ws_server.mjs <takeover|no-takeover>: a `ws` echo server with permessage-deflate; prints
// LISTENING <port>, then the Sec-WebSocket-Extensions it answered per connection. Exits after 120 s.
import { WebSocketServer } from "ws";

const mode = process.argv[2];
setTimeout(() => process.exit(0), 120_000).unref();
const perMessageDeflate = mode === "no-takeover"
  ? { threshold: 0, clientNoContextTakeover: true, serverNoContextTakeover: true }
  : { threshold: 0 };
const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  perMessageDeflate,
  maxPayload: 64 * 1024 * 1024,
});
server.on("headers", (headers) => console.log(JSON.stringify({ headers })));
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on("listening", () => console.log(`LISTENING ${server.address().port}`));

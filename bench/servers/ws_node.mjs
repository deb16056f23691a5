// Anchor: the `ws` package on Node, echo, perMessageDeflate off.
// Run: node bench/servers/ws_node.mjs   (PORT env var, default 9001)
import process from "node:process";
import { WebSocketServer } from "ws";

const wss = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(process.env.PORT ?? 9001),
  perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024,
  clientTracking: false,
});

wss.on("connection", (ws) => {
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});

wss.on("listening", () => console.log(`listening ${wss.address().port}`));

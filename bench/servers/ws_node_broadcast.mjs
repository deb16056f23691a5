// Anchor: the `ws` package on Node, broadcast (fan-out). It has no pub/sub, so subscribers
// (connections to /sub) go into a Set and every message received (from the publisher on /pub) is
// sent to each of them with ws.send, which frames the data per send. perMessageDeflate off.
// Run: node bench/servers/ws_node_broadcast.mjs   (PORT env var, default 9001)
import process from "node:process";
import { WebSocketServer } from "ws";

const subscribers = new Set();

const wss = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(process.env.PORT ?? 9001),
  perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024,
  clientTracking: false,
});

wss.on("connection", (ws, req) => {
  ws.on("error", () => {});
  if (req.url === "/sub") {
    subscribers.add(ws);
    ws.on("close", () => subscribers.delete(ws));
  }
  ws.on("message", (data, isBinary) => {
    for (const s of subscribers) s.send(data, { binary: isBinary });
  });
});

wss.on("listening", () => console.log(`listening ${wss.address().port}`));

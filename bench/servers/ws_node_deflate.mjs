// Anchor: the `ws` package on Node, echo, permessage-deflate on (the compression suites).
// Run: node bench/servers/ws_node_deflate.mjs   (PORT env var, default 9001)
// Level 1 as edgews uses (ws would take zlib's default, 6, which compresses more slowly and would
// flatter edgews); threshold 0 so that every echo is compressed. ws's default concurrencyLimit
// (10 zlib jobs at a time per process) is kept: it is what ws users get.
import process from "node:process";
import { WebSocketServer } from "ws";

const wss = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(process.env.PORT ?? 9001),
  perMessageDeflate: { threshold: 0, zlibDeflateOptions: { level: 1 } },
  maxPayload: 64 * 1024 * 1024,
  clientTracking: false,
});

wss.on("connection", (ws) => {
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});

wss.on("listening", () => console.log(`listening ${wss.address().port}`));

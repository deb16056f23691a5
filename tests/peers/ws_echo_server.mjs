/**
 * The `ws` package's server on Node in a child process, for the client tests; speaks the protocol
 * described in edgews_echo_server.ts, plus `cmd:frag` and `cmd:frag-binary`: a message sent in
 * three fragments (`ws.send(chunk, { fin: false })` … then `fin: true`).
 *
 *   node tests/peers/ws_echo_server.mjs
 * @module
 */

import process from "node:process";
import { WebSocketServer } from "ws";

const event = (data) => console.log(JSON.stringify(data));

const wss = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  maxPayload: 64 * 1024 * 1024,
  handleProtocols: (protocols) => protocols.has("chat") ? "chat" : false,
});
wss.on("listening", () => console.log(`LISTENING ${wss.address().port}`));
wss.on("connection", (ws) => {
  event({ event: "open", protocol: ws.protocol });
  ws.on("message", (data, isBinary) => {
    const text = isBinary ? null : data.toString("utf8");
    if (text === "cmd:close") ws.close(4001, "server bye");
    else if (text === "cmd:ping") ws.ping("srv-ping");
    else if (text === "cmd:frag") {
      // "Ünïcödé ✓ fragments", cut inside a multi-byte character on purpose.
      const bytes = Buffer.from("Ünïcödé ✓ fragments", "utf8");
      ws.send(bytes.subarray(0, 1), { binary: false, fin: false });
      ws.send(bytes.subarray(1, 12), { binary: false, fin: false });
      ws.send(bytes.subarray(12), { binary: false, fin: true });
    } else if (text === "cmd:frag-binary") {
      ws.send(Buffer.from([0, 1, 2]), { binary: true, fin: false });
      ws.send(Buffer.from([]), { binary: true, fin: false });
      ws.send(Buffer.from([253, 254, 255]), { binary: true, fin: true });
    } else ws.send(data, { binary: isBinary });
  });
  ws.on("pong", (payload) => {
    const text = payload.toString("utf8");
    event({ event: "pong", payload: text });
    ws.send(`pong-seen:${text}`);
  });
  ws.on("close", (code, reason) => event({ event: "close", code, reason: reason.toString() }));
});
setTimeout(() => process.exit(0), 120_000).unref();

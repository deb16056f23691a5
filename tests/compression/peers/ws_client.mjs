// node ws_client.mjs <url> <takeover|no-takeover>: the `ws` client with permessage-deflate sends
// every test message, checks each echo, prints one JSON line, exits. Exits by itself after 100 s.
import WebSocket from "ws";
import { fingerprint, messages } from "./payloads.mjs";

const [url, mode] = process.argv.slice(2);
setTimeout(() => {
  console.log(JSON.stringify({ error: "timeout" }));
  process.exit(2);
}, 100_000).unref();
const perMessageDeflate = mode === "no-takeover"
  ? { threshold: 0, clientNoContextTakeover: true, serverNoContextTakeover: true }
  : { threshold: 0 };
const ws = new WebSocket(url, { perMessageDeflate, maxPayload: 64 * 1024 * 1024 });
ws.binaryType = "nodebuffer";
const list = messages();
const results = [];
let index = 0;
ws.on("open", () => ws.send(list[0]));
ws.on("message", (data, isBinary) => {
  const got = fingerprint(isBinary ? new Uint8Array(data) : data.toString("utf8"));
  results.push(got === fingerprint(list[index]) ? "ok" : `mismatch ${got}`);
  if (++index < list.length) ws.send(list[index]);
  else ws.close(1000);
});
ws.on("close", (code) => {
  console.log(JSON.stringify({ extensions: ws.extensions, results, code }));
  process.exit(0);
});
ws.on("error", (error) => {
  console.log(JSON.stringify({ error: String(error) }));
  process.exit(1);
});

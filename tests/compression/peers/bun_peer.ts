// bun bun_peer.ts server <takeover|no-takeover>: Bun's native echo server with perMessageDeflate
//   (prints LISTENING <port>);
// bun bun_peer.ts client <url>: Bun's WebSocket client (it offers permessage-deflate) sends every
//   test message, checks each echo, prints one JSON line.
// Exits by itself after 100 s.
import { fingerprint, messages } from "./payloads.mjs";

declare const Bun: {
  serve(options: unknown): { port: number };
};
const [role, arg] = process.argv.slice(2);
setTimeout(() => {
  console.log(JSON.stringify({ error: "timeout" }));
  process.exit(2);
}, 100_000);

if (role === "server") {
  // uWS: "dedicated" keeps a sliding window per connection, "shared" has none (no takeover).
  const compressor = arg === "no-takeover" ? "shared" : "dedicated";
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request: Request, server: { upgrade(r: Request): boolean }) {
      if (server.upgrade(request)) return undefined;
      return new Response("upgrade", { status: 426 });
    },
    websocket: {
      perMessageDeflate: { compress: compressor, decompress: compressor },
      maxPayloadLength: 64 * 1024 * 1024,
      message(ws: { send(m: unknown, compress: boolean): void }, message: unknown) {
        ws.send(message, true);
      },
    },
  });
  console.log(`LISTENING ${server.port}`);
} else {
  const ws = new WebSocket(arg);
  ws.binaryType = "arraybuffer";
  const list = messages();
  const results: string[] = [];
  let index = 0;
  ws.onopen = () => ws.send(list[0]);
  ws.onmessage = (event) => {
    const data = typeof event.data === "string" ? event.data : new Uint8Array(event.data);
    const got = fingerprint(data);
    results.push(got === fingerprint(list[index]) ? "ok" : `mismatch ${got}`);
    if (++index < list.length) ws.send(list[index]);
    else ws.close(1000);
  };
  ws.onclose = (event) => {
    console.log(JSON.stringify({ extensions: ws.extensions, results, code: event.code }));
    process.exit(0);
  };
  ws.onerror = () => {};
}

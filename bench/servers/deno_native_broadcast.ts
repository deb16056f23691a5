// Anchor: Deno's built-in Deno.upgradeWebSocket, broadcast (fan-out). It has no pub/sub, so
// subscribers (connections to /sub) go into a Set and every message received (from the publisher
// on /pub) is sent to each of them with socket.send, which encodes a frame per send.
// Run: deno run -A bench/servers/deno_native_broadcast.ts   (PORT env var, default 9001)
const port = Number(Deno.env.get("PORT") ?? 9001);
const subscribers = new Set<WebSocket>();

const server = Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen({ port }) {
    console.log(`listening ${port}`);
  },
}, (req) => {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("websocket only", { status: 426 });
  }
  const subscriber = new URL(req.url).pathname === "/sub";
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.binaryType = "arraybuffer";
  if (subscriber) {
    socket.onopen = () => subscribers.add(socket);
    socket.onclose = () => subscribers.delete(socket);
  }
  socket.onmessage = (e) => {
    for (const s of subscribers) s.send(e.data);
  };
  socket.onerror = () => {};
  return response;
});

await server.finished;

// Anchor: Deno's built-in Deno.serve + Deno.upgradeWebSocket, echo.
// Run: deno run -A bench/servers/deno_native.ts   (PORT env var, default 9001)
const port = Number(Deno.env.get("PORT") ?? 9001);

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
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (e) => socket.send(e.data);
  socket.onerror = () => {};
  return response;
});

await server.finished;

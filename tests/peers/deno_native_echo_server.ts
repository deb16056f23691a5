/**
 * Deno's native WebSocket server (`Deno.serve` + `Deno.upgradeWebSocket`) in a child process, for
 * the client tests; speaks the protocol described in edgews_echo_server.ts, except `cmd:ping`:
 * Deno's server socket has no ping method and reports no pongs.
 *
 *   deno run -A tests/peers/deno_native_echo_server.ts
 * @module
 */

const event = (data: Record<string, unknown>) => console.log(JSON.stringify(data));

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen({ port }) {
    console.log(`LISTENING ${port}`);
  },
}, (request) => {
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",")
    .map((p) => p.trim());
  const protocol = offered.includes("chat") ? "chat" : undefined;
  const { socket, response } = Deno.upgradeWebSocket(request, { protocol });
  socket.binaryType = "arraybuffer";
  // The protocol chosen here (Deno's server-side `socket.protocol` stays "" even then).
  socket.onopen = () =>
    event({ event: "open", protocol: protocol ?? "", socketProtocol: socket.protocol });
  socket.onmessage = (e) => {
    if (e.data === "cmd:close") socket.close(4001, "server bye");
    else if (e.data === "cmd:ping") socket.send("no-ping-api");
    else socket.send(e.data);
  };
  socket.onclose = (e) => event({ event: "close", code: e.code, reason: e.reason });
  return response;
});
setTimeout(() => server.shutdown().finally(() => Deno.exit(0)), 120_000);

/**
 * A child process for the reusePort test: an edgews server on 127.0.0.1:PORT that greets every
 * connection with `<runtime>:<pid>`, so the test can tell which process accepted it, then echoes.
 * `REUSE_PORT=1` asks for SO_REUSEPORT; `TLS=1` serves wss:// with the throwaway test certificate
 * (tests/fixtures/tls/). Prints `listening on 127.0.0.1:PORT` once it listens; a failure to
 * listen is uncaught and ends the process with its error on stderr. SIGTERM shuts down gracefully
 * and exits 0.
 * @module
 */

import process from "node:process";
import { serve } from "../../mod.ts";
import { RUNTIME } from "../helpers/servers.ts";
import { TLS_CERT, TLS_KEY } from "../helpers/tls.ts";

const server = serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT),
  reusePort: process.env.REUSE_PORT === "1",
  tls: process.env.TLS === "1" ? { cert: TLS_CERT, key: TLS_KEY } : undefined,
  websocket: {
    open(ws) {
      ws.send(`${RUNTIME}:${process.pid}`);
    },
    message(ws, message) {
      ws.send(message);
    },
  },
});

console.log(`listening on 127.0.0.1:${server.port}`);

process.on("SIGTERM", async () => {
  await server.shutdown();
  process.exit(0);
});

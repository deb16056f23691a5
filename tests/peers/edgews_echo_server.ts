/**
 * An edgews echo server in a child process, for the client tests: run it on the runtime the test
 * is NOT running on, so our client meets our server across runtimes.
 *
 *   deno run -A tests/peers/edgews_echo_server.ts [--tls]
 *   bun tests/peers/edgews_echo_server.ts [--tls]
 *
 * Protocol shared by every `*_echo_server` peer (see tests/client/_targets.ts):
 * - prints `LISTENING <port>` once listening, then one JSON line per event
 *   (`{"event":"open","protocol":...}`, `{"event":"pong","payload":...}`,
 *   `{"event":"close","code":...,"reason":...}`);
 * - chooses the subprotocol "chat" when the client offers it;
 * - text `cmd:close` → closes with 4001 "server bye";
 * - text `cmd:ping` → pings with "srv-ping", and answers the pong with text `pong-seen:<payload>`;
 * - anything else comes back as it came (text as text, binary as binary).
 * It exits by itself after two minutes.
 * @module
 */

import process from "node:process";
import { readFileSync } from "node:fs";
import { serve } from "../../mod.ts";
import { peerProtocolHandler } from "./edgews_peer_handler.ts";

const tls = process.argv.includes("--tls")
  ? {
    cert: readFileSync(new URL("../fixtures/tls/localhost.pem", import.meta.url), "utf8"),
    key: readFileSync(new URL("../fixtures/tls/localhost.key", import.meta.url), "utf8"),
  }
  : undefined;
const event = (data: Record<string, unknown>) => console.log(JSON.stringify(data));

const server = serve({
  hostname: "127.0.0.1",
  port: 0,
  tls,
  protocols: ["chat"],
  websocket: peerProtocolHandler(event),
});
console.log(`LISTENING ${server.port}`);
setTimeout(() => process.exit(0), 120_000).unref?.();

/**
 * A command-line WebSocket client: every line typed on stdin goes out as a text message, and
 * every message that comes back is printed (text as is, binary as hex). End of input (Ctrl-D)
 * closes the connection with 1000, after waiting briefly for the replies to what was sent; the
 * program also ends when the server closes.
 *
 *   npx deno run --allow-net examples/client.ts ws://127.0.0.1:8080/
 *   npx bun run examples/client.ts ws://127.0.0.1:8080/
 *
 * `wss://` works too. To trust a private CA, name its PEM file in `NODE_EXTRA_CA_CERTS`, which
 * Deno and Bun both read at startup (Deno also reads `DENO_CERT`; Bun does not).
 *
 * Exit status: 0 after a clean close (either side), 1 when connecting fails or the connection
 * drops.
 * @module
 */

import process from "node:process";
import { createInterface } from "node:readline";
import { connect, type Message } from "../mod.ts";

/** After end of input, how long to wait for replies to the lines sent before closing, in ms. */
const REPLY_GRACE = 2_000;
/** Binary messages are printed as hex up to this many bytes. */
const HEX_LIMIT = 64;

const url = process.argv[2];
if (url === undefined || url === "--help" || url === "-h") {
  console.error("usage: client.ts ws://host:port/path   (or wss://…)");
  process.exit(2);
}

let sent = 0;
let received = 0;
let wakeOnReply: (() => void) | null = null;

function show(message: Message): string {
  if (typeof message === "string") return message;
  const hex = Array.from(message.subarray(0, HEX_LIMIT), (b) => b.toString(16).padStart(2, "0"));
  const more = message.length > HEX_LIMIT ? " …" : "";
  return `[binary, ${message.length} bytes] ${hex.join(" ")}${more}`;
}

let ws;
try {
  ws = await connect(url, {
    websocket: {
      message(_ws, message) {
        received++;
        console.log(`< ${show(message)}`);
        wakeOnReply?.();
      },
    },
  });
} catch (error) {
  console.error(`could not connect: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
console.error(`connected to ${url}${ws.protocol ? ` (subprotocol ${ws.protocol})` : ""}`);

const lines = createInterface({ input: process.stdin, terminal: false });
lines.on("line", (line) => {
  if (ws.send(line) !== "dropped") sent++;
});
lines.on("close", async () => {
  // End of input: give the server a moment to answer what was sent, then close cleanly.
  const deadline = Date.now() + REPLY_GRACE;
  while (received < sent && ws.readyState === 1 && Date.now() < deadline) {
    await new Promise<void>((resolve) => {
      wakeOnReply = resolve;
      setTimeout(resolve, deadline - Date.now());
    });
  }
  ws.close(1000, "end of input");
});

const info = await ws.closed;
console.error(`closed: ${info.code}${info.reason ? ` ${info.reason}` : ""}`);
process.exit(info.wasClean ? 0 : 1);

/**
 * A WebSocket client in a child process: `peer.mjs <url> <scenario> [builtin|ws]` runs one
 * scenario from scenarios.mjs with the runtime's built-in `WebSocket` (Deno's, Bun's or Node's),
 * or on Node with `ws` as the last argument the `ws` package, and prints one line of JSON:
 * `{ "ok": true, "client": ..., "result": ... }` or `{ "ok": false, "error": ... }`. It exits by
 * itself after a deadline whatever happens.
 *
 *   deno run -A tests/peers/peer.mjs ws://127.0.0.1:8080/echo text
 *   bun tests/peers/peer.mjs ws://127.0.0.1:8080/echo text
 *   node tests/peers/peer.mjs ws://127.0.0.1:8080/echo text builtin
 *   node tests/peers/peer.mjs ws://127.0.0.1:8080/echo text ws
 * @module
 */

import process from "node:process";
import { runScenario, STEP_TIMEOUT } from "./scenarios.mjs";

const [url, scenario, client = "builtin"] = process.argv.slice(2);

/** Prints the line and exits once it is written. */
function finish(line, code) {
  process.stdout.write(JSON.stringify(line) + "\n", () => process.exit(code));
}

const deadline = setTimeout(
  () => finish({ ok: false, error: "peer deadline passed" }, 3),
  STEP_TIMEOUT * 3,
);

async function main() {
  let kind;
  let WebSocketImpl;
  if ("Deno" in globalThis) {
    kind = "deno";
    WebSocketImpl = globalThis.WebSocket;
  } else if ("Bun" in globalThis) {
    kind = "bun";
    WebSocketImpl = globalThis.WebSocket;
  } else if (client === "ws") {
    kind = "ws";
    WebSocketImpl = (await import("ws")).WebSocket;
  } else {
    kind = "node";
    WebSocketImpl = globalThis.WebSocket;
  }
  const result = await runScenario(WebSocketImpl, kind, url, scenario);
  return { ok: true, client: kind, result };
}

main().then(
  (line) => {
    clearTimeout(deadline);
    finish(line, 0);
  },
  (error) => {
    clearTimeout(deadline);
    finish({ ok: false, error: String(error?.stack ?? error) }, 1);
  },
);

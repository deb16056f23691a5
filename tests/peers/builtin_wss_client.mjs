/**
 * The runtime's built-in `WebSocket` client in a child process, for the client/TLS tests:
 * `builtin_wss_client.mjs <url>` connects, sends "hello ✓", waits for the echo, closes with 1000,
 * and prints one JSON line: `{ "ok": true, "echo": ..., "code": ... }` or `{ "ok": false, ... }`.
 * Trust for a private CA comes from the environment (DENO_CERT on Deno, NODE_EXTRA_CA_CERTS on
 * Bun). It gives up by itself after 20 s.
 *
 *   DENO_CERT=tests/fixtures/tls/ca.pem deno run -A tests/peers/builtin_wss_client.mjs wss://127.0.0.1:8443/
 *   NODE_EXTRA_CA_CERTS=tests/fixtures/tls/ca.pem bun tests/peers/builtin_wss_client.mjs wss://127.0.0.1:8443/
 * @module
 */

import process from "node:process";

const url = process.argv[2];
let done = false;
function finish(line) {
  if (done) return;
  done = true;
  process.stdout.write(JSON.stringify(line) + "\n", () => process.exit(line.ok ? 0 : 1));
}
setTimeout(() => finish({ ok: false, error: "deadline passed" }), 20_000);

const ws = new WebSocket(url);
let echo = null;
ws.onopen = () => ws.send("hello ✓");
ws.onmessage = (event) => {
  echo = event.data;
  ws.close(1000, "done");
};
ws.onerror = (event) => finish({ ok: false, error: String(event.message ?? event.type) });
ws.onclose = (event) => {
  if (echo === null) finish({ ok: false, error: `closed with ${event.code} before the echo` });
  else finish({ ok: true, echo, code: event.code, reason: event.reason });
};

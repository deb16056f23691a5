/**
 * The echo example as a user runs it, on Deno, Bun and Node: it starts on the port PORT names,
 * serves its page at `/`, echoes, and on SIGINT closes its connections (1001) and exits with 0.
 * The test runtime's own `WebSocket` and `fetch` are the clients.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { exampleCommand, freePort, killChildren, startChild } from "../helpers/processes.ts";
import { within } from "../helpers/timing.ts";

/** Per step; a runtime starting cold is the slow part. */
const STEP = 30_000;

describe("examples/echo.ts as a process", () => {
  after(() => killChildren());

  for (const runtime of ["deno", "bun", "node"] as const) {
    test(`on ${runtime}: page, echo, SIGINT`, { timeout: 4 * STEP }, async () => {
      const port = await freePort();
      const [command, args] = exampleCommand("examples/echo.ts", runtime);
      const child = startChild(command, args, {
        deadlineMs: 3 * STEP,
        env: { PORT: String(port) },
      });
      let socket: WebSocket | undefined;
      try {
        await child.waitFor(`ws://127.0.0.1:${port}/`, STEP);

        const page = await within(fetch(`http://127.0.0.1:${port}/`), STEP, "GET /");
        const html = await page.text();
        assert.equal(page.status, 200);
        assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
        assert.match(html, /new WebSocket\(/);
        const missing = await within(fetch(`http://127.0.0.1:${port}/nope`), STEP, "GET /nope");
        await missing.body?.cancel();
        assert.equal(missing.status, 404);

        const ws = socket = new WebSocket(`ws://127.0.0.1:${port}/`);
        ws.binaryType = "arraybuffer";
        const messages: unknown[] = [];
        let onMessage = () => {};
        ws.onmessage = (event) => {
          messages.push(event.data);
          onMessage();
        };
        const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>(
          (resolve) => {
            ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
          },
        );
        await within(
          new Promise<void>((resolve, reject) => {
            ws.onopen = () => resolve();
            ws.onerror = () => reject(new Error("WebSocket error before open"));
          }),
          STEP,
          "the WebSocket to open",
        );
        const echoed = new Promise<void>((resolve) => onMessage = resolve);
        ws.send("hello, echo ✓");
        await within(echoed, STEP, "the echo");
        assert.deepEqual(messages, ["hello, echo ✓"]);

        // Ctrl-C: the example shuts down gracefully, which closes this socket with 1001.
        child.signal("SIGINT");
        assert.deepEqual(await within(closed, STEP, "the close event after SIGINT"), {
          code: 1001,
          reason: "server shutting down",
          wasClean: true,
        });
        const exit = await child.exited;
        assert.deepEqual(exit, { code: 0, signal: null }, child.stderr());
        assert.match(child.stdout(), /shutting down/);
      } finally {
        socket?.close();
        child.kill();
        await child.exited;
      }
    });
  }
});

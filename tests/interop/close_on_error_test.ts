/**
 * When the server fails a connection while the client is still sending (here: a message over
 * maxPayload), the client must still read the close frame with its code. Closing TCP outright
 * would leave the rest of the client's message unread, and the kernel's reset can destroy the
 * close frame before the client reads it (Deno's WebSocket then reported code 0 every time).
 * The runtime's own WebSocket client is the peer; the check is repeated to catch a race.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketServer } from "../../mod.ts";
import { RUNTIME, startServer } from "../helpers/servers.ts";

describe(`a failed connection still delivers its close code (${RUNTIME}'s WebSocket client)`, () => {
  let server: WebSocketServer;
  before(() => {
    server = startServer({ maxPayload: 1024 });
  });
  after(() => server.stop());

  test("a message over maxPayload, sent whole: the client sees 1009 every time", async () => {
    const codes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      const closed = new Promise<number>((resolve) => ws.onclose = (event) => resolve(event.code));
      ws.send("x".repeat(200_000));
      codes.push(await closed);
    }
    assert.deepEqual(codes, Array(10).fill(1009));
  });
});

/**
 * The Backplane interface's promise to whoever implements one: `receive` copies what it keeps, so
 * the backplane may reuse a message's memory as soon as `receive` returns (a client reading
 * replies into one buffer does). Two servers in this process are linked by a backplane that does
 * exactly that: every message it carries is handed over in one scratch buffer, overwritten right
 * after. A subscriber on the far server, the runtime's own WebSocket, must still get every
 * message intact and in order, whether the messages come one at a time or many in one turn.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Backplane, type BackplaneReceipt, serve, type WebSocketServer } from "../../mod.ts";
import { waitUntil } from "../helpers/timing.ts";

/** Links the backplanes of a hub; carries each message in a buffer it reuses at once. */
class ScratchBufferBackplane implements Backplane {
  readonly #hub: Set<ScratchBufferBackplane>;
  readonly #scratch = new Uint8Array(64 * 1024);
  #receive: ((topic: string, message: Uint8Array) => BackplaneReceipt) | null = null;
  readonly receipts: BackplaneReceipt[] = [];

  constructor(hub: Set<ScratchBufferBackplane>) {
    this.#hub = hub;
    hub.add(this);
  }

  attach(receive: (topic: string, message: Uint8Array) => BackplaneReceipt): void {
    this.#receive = receive;
  }

  subscribe(): void {}

  unsubscribe(): void {}

  publish(topic: string, message: Uint8Array): void {
    // In the background, as the interface asks; in order, as microtasks run.
    queueMicrotask(() => {
      for (const peer of this.#hub) if (peer !== this) peer.#deliver(topic, message);
    });
  }

  #deliver(topic: string, message: Uint8Array): void {
    const lent = this.#scratch.subarray(0, message.length);
    lent.set(message);
    this.receipts.push(this.#receive!(topic, lent));
    lent.fill(0x21); // the memory goes on to the next message
  }

  close(): Promise<void> {
    this.#hub.delete(this);
    return Promise.resolve();
  }
}

function startLinkedServer(hub: Set<ScratchBufferBackplane>) {
  const backplane = new ScratchBufferBackplane(hub);
  const server: WebSocketServer = serve({
    hostname: "127.0.0.1",
    port: 0,
    backplane,
    websocket: {
      open(ws) {
        ws.subscribe("news");
      },
      message() {},
    },
  });
  return { server, backplane };
}

/** A subscriber; `received()` throws once its connection has failed (a corrupt frame fails it). */
function openClient(port: number): Promise<{ ws: WebSocket; received: () => string[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const messages: string[] = [];
  let closed = "";
  ws.onmessage = (event) => messages.push(String(event.data));
  ws.onclose = (event) => closed = `closed with ${event.code} after ${messages.length} messages`;
  const received = () => {
    if (closed !== "") throw new Error(`the subscriber's connection ${closed}`);
    return messages;
  };
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve({ ws, received });
    ws.onerror = () => reject(new Error("the client could not connect"));
  });
}

describe("a backplane that reuses a message's memory once receive returns", () => {
  const hub = new Set<ScratchBufferBackplane>();
  const near = startLinkedServer(hub);
  const far = startLinkedServer(hub);
  after(async () => {
    await near.server.shutdown({ timeout: 1000 });
    await far.server.shutdown({ timeout: 1000 });
  });

  test("the far subscriber gets every message intact, alone or many in one turn", async () => {
    const { ws, received } = await openClient(far.server.port);
    const expected: string[] = [];
    // One at a time: each is delivered, and its memory overwritten, before the next.
    for (let i = 0; i < 5; i++) {
      const message = `single ${i}: ${"x".repeat(i * 40)}`;
      expected.push(message);
      near.server.publish("news", message);
      await waitUntil(() => received().length === expected.length, 5000, `message ${i}`);
    }
    // Many in one turn: all of them reach the far server before its subscriber's next write.
    for (let i = 0; i < 50; i++) {
      const message = `burst ${i}: ${"y".repeat(i * 7)}`;
      expected.push(message);
      near.server.publish("news", message);
    }
    // And one too large to be batched, which the subscriber writes by reference.
    const large = "z".repeat(40_000);
    expected.push(large);
    near.server.publish("news", large);
    await waitUntil(() => received().length >= expected.length, 5000, "the burst");
    assert.deepEqual(received(), expected);
    assert.ok(far.backplane.receipts.every((receipt) => receipt === "delivered"));
    assert.equal(far.backplane.receipts.length, expected.length);
    ws.onclose = null;
    ws.close();
  });
});

/**
 * Leaving topics: `unsubscribe` and every way a connection can end take it out of its topics
 * (`subscriberCount`, `publish`'s count, and what is delivered), and `connectionCount` returns to
 * 0 after all of them, whichever way they ended: a clean close from either side, a TCP drop, a
 * protocol error, a drop in the middle of a frame, the runtime's own WebSocket closing.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { clientFrame, OP } from "../helpers/wire.ts";
import { startPubSubServer } from "./_server.ts";
import { StreamClient } from "../helpers/stream_client.ts";
import { waitUntil } from "../helpers/timing.ts";

const STEP = 20_000;

describe("leaving topics", () => {
  const opened: StreamClient[] = [];
  const sockets: WebSocket[] = [];
  const servers: Array<{ stop(): Promise<void> }> = [];
  after(async () => {
    for (const client of opened) client.destroy();
    for (const socket of sockets) socket.close();
    await Promise.all(servers.map((server) => server.stop()));
  });

  test("unsubscribe removes a connection from one topic only", { timeout: STEP }, async () => {
    const { server, connections } = startPubSubServer();
    servers.push(server);
    const clients: StreamClient[] = [];
    for (let i = 0; i < 10; i++) {
      clients.push(await StreamClient.open(server.port, { path: `/?id=${i}&topics=x,y` }));
    }
    opened.push(...clients);
    assert.equal(server.subscriberCount("x"), 10);
    assert.equal(server.subscriberCount("y"), 10);

    // The first four unsubscribe from x (the fourth twice: the second time says false).
    for (let i = 0; i < 4; i++) clients[i].sendText(JSON.stringify({ op: "unsub", topic: "x" }));
    clients[3].sendText(JSON.stringify({ op: "unsub", topic: "x" }));
    clients[4].sendText(JSON.stringify({ op: "sub", topic: "y" })); // already: false
    for (let i = 0; i < 5; i++) {
      const acks = i === 3 ? 2 : 1;
      await clients[i].waitUntil(() => clients[i].frames.length === acks, STEP, `ack ${i}`);
    }
    assert.deepEqual(clients[0].texts, [JSON.stringify({ ack: "unsub", result: true })]);
    assert.deepEqual(clients[3].texts, [
      JSON.stringify({ ack: "unsub", result: true }),
      JSON.stringify({ ack: "unsub", result: false }),
    ]);
    assert.deepEqual(clients[4].texts, [JSON.stringify({ ack: "sub", result: false })]);
    assert.equal(server.subscriberCount("x"), 6);
    assert.equal(server.subscriberCount("y"), 10);
    assert.deepEqual(connections.get("0")!.subscriptions, ["y"]);
    assert.equal(connections.get("0")!.isSubscribed("x"), false);
    assert.equal(connections.get("5")!.isSubscribed("x"), true);
    assert.deepEqual(connections.get("5")!.subscriptions.sort(), ["x", "y"]);

    assert.equal(server.publish("x", "to x"), 6);
    assert.equal(server.publish("y", "to y"), 10);
    for (const [i, client] of clients.entries()) {
      const before = i < 5 ? 1 + (i === 3 ? 1 : 0) : 0;
      const expected = i < 4 ? ["to y"] : ["to x", "to y"];
      await client.waitUntil(
        () => client.frames.length === before + expected.length,
        STEP,
        `client ${i}'s messages`,
      );
      assert.deepEqual(client.texts.slice(before), expected, `client ${i}`);
    }
  });

  test(
    "every way of closing leaves the topics, and connectionCount returns to 0",
    { timeout: 2 * STEP },
    async () => {
      const { server, connections, closes, errors } = startPubSubServer({ closeTimeout: 2_000 });
      servers.push(server);
      const path = (id: string) => `/?id=${id}&topics=t`;
      const open = async (id: string) => {
        const client = await StreamClient.open(server.port, { path: path(id) });
        opened.push(client);
        return client;
      };
      const clean = await open("clean");
      const drop = await open("drop");
      const protocolError = await open("protocol-error");
      const midFrame = await open("mid-frame");
      const serverClose = await open("server-close");
      const halfClose = await open("half-close");
      const stays = await open("stays");
      // The runtime's own WebSocket client, as a peer that is not our test code.
      const native = new WebSocket(`ws://127.0.0.1:${server.port}${path("native")}`);
      sockets.push(native);
      const nativeClosed = new Promise<CloseEvent>((resolve) => native.onclose = resolve);
      await new Promise<void>((resolve, reject) => {
        native.onopen = () => resolve();
        native.onerror = () => reject(new Error("native WebSocket failed to open"));
      });
      await waitUntil(() => server.connectionCount === 8, STEP, "8 connections");
      assert.equal(server.subscriberCount("t"), 8);
      assert.equal(server.publish("t", "hello"), 8);

      // 1. A clean close from the client: close frame, the server answers and closes TCP.
      clean.sendClose(1000, "bye");
      // 2. A TCP drop, no close frame.
      drop.destroy();
      // 3. A protocol error: an unmasked frame; the server fails the connection with 1002.
      protocolError.write(clientFrame(OP.text, "unmasked", { mask: false }));
      // 4. Half a frame, then a drop.
      midFrame.write(clientFrame(OP.text, "x".repeat(1000)).subarray(0, 500));
      midFrame.destroy();
      // 5. The server closes.
      connections.get("server-close")!.close(4000, "you go");
      // 6. The client ends its side of TCP without a close frame.
      halfClose.socket.end();
      // 7. The runtime's WebSocket closes.
      native.close(1000, "native bye");

      await clean.waitUntil(() => clean.ended, STEP, "the server to close TCP after 1000");
      assert.equal(clean.closeCode, 1000);
      await protocolError.waitUntil(() => protocolError.ended, STEP, "TCP closed after 1002");
      assert.equal(protocolError.closeCode, 1002);
      await serverClose.waitUntil(() => serverClose.closeCode !== undefined, STEP, "4000");
      assert.equal(serverClose.closeCode, 4000);
      serverClose.sendClose(4000);
      await serverClose.waitUntil(() => serverClose.ended, STEP, "TCP closed after 4000");
      assert.equal((await nativeClosed).code, 1000);

      await waitUntil(() => server.connectionCount === 1, STEP, "only one connection left");
      assert.equal(server.subscriberCount("t"), 1);
      assert.equal(server.publish("t", "still here?"), 1);
      await stays.waitUntil(() => stays.texts.length === 2, STEP, "the last message");
      assert.deepEqual(stays.texts, ["hello", "still here?"]);
      assert.deepEqual([...server.connections()].map((ws) => ws.data.id), ["stays"]);

      // 8. The last one leaves through the server's shutdown.
      const shutdown = server.shutdown({ timeout: 2_000 });
      await stays.waitUntil(() => stays.closeCode !== undefined, STEP, "the shutdown's 1001");
      assert.equal(stays.closeCode, 1001);
      stays.sendClose(1001);
      await shutdown;
      assert.equal(server.connectionCount, 0);
      assert.equal(server.subscriberCount("t"), 0);
      assert.equal(server.publish("t", "anyone?"), 0);

      const codes = Object.fromEntries(closes.map((c) => [c.id, c.code]));
      assert.deepEqual(codes, {
        clean: 1000,
        drop: 1006,
        "protocol-error": 1002,
        "mid-frame": 1006,
        "server-close": 4000,
        "half-close": 1006,
        native: 1000,
        stays: 1001,
      });
      assert.equal(closes.length, 8, "close called once per connection");
      assert.deepEqual(errors, []);
    },
  );
});

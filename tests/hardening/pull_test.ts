/**
 * The pull-style API holds the peer back: a connection whose handler has no `message` callback
 * stops reading from the socket while `messageQueueLength` messages wait unread, so a peer that
 * sends more than the application reads is pushed back by TCP instead of growing the server's
 * memory; once the application reads, everything arrives, in order.
 */

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { serve, type ServerWebSocket, type WebSocketServer } from "../../mod.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { sleep, waitUntil } from "../helpers/timing.ts";
import { clientFrame, OP } from "../helpers/wire.ts";

const MESSAGES = 400;
/** 400 × 64 KiB = 25 MiB: far more than the socket buffers of both ends hold on loopback. */
const SIZE = 64 * 1024;

const servers: WebSocketServer[] = [];
const clients: RawClient[] = [];
after(async () => {
  for (const client of clients) client.destroy();
  for (const server of servers) await server.stop();
});

test("a connection nobody reads stops reading; reading it later gets every message, in order", {
  timeout: 60_000,
}, async () => {
  let connection: ServerWebSocket | null = null;
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    messageQueueLength: 4,
    websocket: {
      open(ws) {
        connection = ws; // read later, by the test
      },
    },
  });
  servers.push(server);
  const client = await RawClient.open(server.port);
  clients.push(client);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const payload = new Uint8Array(SIZE).fill(i % 251);
    payload[0] = i >> 8;
    payload[1] = i & 0xff;
    frames.push(clientFrame(OP.binary, payload));
  }
  for (const frame of frames) client.socket.write(frame);
  await waitUntil(() => connection !== null, 5_000, "the connection");
  // Reading paused: most of what the client wrote is still waiting on its side.
  await sleep(500);
  const waiting = client.socket.writableLength;
  assert.ok(
    waiting > (MESSAGES * SIZE) / 2,
    `only ${waiting} of ${MESSAGES * SIZE} bytes still wait to be sent: the server kept reading`,
  );

  let count = 0;
  for await (const message of connection!) {
    assert.ok(message instanceof Uint8Array);
    assert.equal(message.length, SIZE);
    assert.equal((message[0] << 8) | message[1], count, "in order");
    if (++count === MESSAGES) break;
  }
  assert.equal(client.socket.writableLength, 0, "everything was sent once the server read");
});

/**
 * A slow subscriber (a raw socket that stops reading) among fast ones (the runtime's own
 * WebSocket clients), with a small `backpressureLimit` on the server. The server publishes one
 * message at a time and waits for the fast subscribers to have it, until the slow one's kernel
 * buffers are full and its send buffer passes the limit. Then:
 * - the fast subscribers have received every message, in order, exactly once;
 * - with the default policy the slow one misses messages: `publish` counts it out, `send` says
 *   "dropped", it stays open, and once it reads again it gets exactly the messages queued before
 *   the limit, a `drain` callback, and later messages again;
 * - with `closeOnBackpressureLimit` it is closed with 1008 after the messages already queued.
 * No timing: the loop is bounded by a message count, and every wait is for a condition.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OP } from "../helpers/wire.ts";
import { startPubSubServer } from "./_server.ts";
import { StreamClient } from "../helpers/stream_client.ts";
import { waitUntil } from "../helpers/timing.ts";

const LIMIT = 64 * 1024;
const MESSAGE_SIZE = 32 * 1024;
/** Enough to fill any loopback socket buffers many times over; the loop stops long before. */
const MAX_MESSAGES = 3_000;
const FAST = 3;
const STEP = 30_000;

/** A message whose bytes say its sequence number: 4 bytes big-endian, then (seq + i) & 255. */
function message(seq: number): Uint8Array {
  const bytes = new Uint8Array(MESSAGE_SIZE);
  for (let i = 4; i < bytes.length; i++) bytes[i] = (seq + i) & 255;
  new DataView(bytes.buffer).setUint32(0, seq);
  return bytes;
}

/** The sequence number of a message; throws if its bytes are not what `message` made. */
function sequenceOf(payload: Uint8Array): number {
  assert.equal(payload.length, MESSAGE_SIZE);
  const seq = new DataView(payload.buffer, payload.byteOffset).getUint32(0);
  for (let i = 4; i < payload.length; i += 997) assert.equal(payload[i], (seq + i) & 255);
  assert.equal(payload[payload.length - 1], (seq + payload.length - 1) & 255);
  return seq;
}

/** A fast subscriber: the runtime's WebSocket, recording sequence numbers. */
interface Fast {
  socket: WebSocket;
  seqs: number[];
}

async function openFast(port: number, id: string): Promise<Fast> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/?id=${id}&topics=t`);
  socket.binaryType = "arraybuffer";
  const fast: Fast = { socket, seqs: [] };
  socket.onmessage = (event) => fast.seqs.push(sequenceOf(new Uint8Array(event.data)));
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error(`fast subscriber ${id} failed to open`));
  });
  return fast;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("a slow subscriber", () => {
  const clients: StreamClient[] = [];
  const sockets: WebSocket[] = [];
  const servers: Array<{ stop(): Promise<void> }> = [];
  after(async () => {
    for (const client of clients) client.destroy();
    for (const socket of sockets) socket.close();
    await Promise.all(servers.map((server) => server.stop()));
  });

  /**
   * Starts the server, the fast subscribers and the paused slow one, and publishes until the slow
   * one has missed three messages. Returns what happened.
   */
  async function fillUp(closeOnBackpressureLimit: boolean) {
    const pubsub = startPubSubServer({ backpressureLimit: LIMIT, closeOnBackpressureLimit });
    const { server, connections } = pubsub;
    servers.push(server);
    const fast: Fast[] = [];
    for (let i = 0; i < FAST; i++) {
      fast.push(await openFast(server.port, `fast${i}`));
      sockets.push(fast[i].socket);
    }
    const slow = await StreamClient.open(server.port, { path: "/?id=slow&topics=t" });
    clients.push(slow);
    slow.pause();
    await waitUntil(() => server.subscriberCount("t") === FAST + 1, STEP, "all subscribed");
    const slowWs = connections.get("slow")!;

    const counts: number[] = [];
    let firstMiss = -1;
    for (let seq = 0; seq < MAX_MESSAGES; seq++) {
      const count = server.publish("t", message(seq));
      counts.push(count);
      if (count !== FAST + 1 && firstMiss === -1) firstMiss = seq;
      await waitUntil(
        () => fast.every((f) => f.seqs.length === seq + 1),
        STEP,
        `the fast subscribers to receive message ${seq}`,
      );
      if (firstMiss !== -1 && seq === firstMiss + 2) break;
    }
    assert.notEqual(firstMiss, -1, `the slow subscriber took all ${MAX_MESSAGES} messages`);
    const published = counts.length;
    // Before the limit every subscriber got each message; from then on only the fast ones.
    assert.deepEqual(counts, [
      ...Array(firstMiss).fill(FAST + 1),
      ...Array(published - firstMiss).fill(FAST),
    ]);
    // The fast ones got everything, once each, in order.
    for (const f of fast) assert.deepEqual(f.seqs, range(0, published));
    return { ...pubsub, fast, slow, slowWs, firstMiss, published };
  }

  test("misses messages (and is told so) but does not hold up the others", {
    timeout: 4 * STEP,
  }, async () => {
    const { server, fast, slow, slowWs, firstMiss, published, drains, closes } = await fillUp(
      false,
    );
    console.log(
      `slow subscriber over ${LIMIT} B after ${firstMiss} messages of ${MESSAGE_SIZE} B`,
    );
    assert.ok(slowWs.bufferedAmount > LIMIT);
    assert.equal(slowWs.readyState, 1, "still open");
    assert.equal(slowWs.send("direct"), "dropped");
    assert.equal(drains.length, 0);

    // Reading again, it gets exactly what was queued before the limit, then a drain.
    slow.resume();
    await waitUntil(() => drains.includes("slow"), STEP, "the slow subscriber's drain");
    await slow.waitUntil(() => slow.messages.length === firstMiss, STEP, "the queued messages");
    assert.deepEqual(slow.messages.map((f) => sequenceOf(f.payload)), range(0, firstMiss));
    assert.equal(slowWs.bufferedAmount, 0);

    // And it is a subscriber like the others again.
    assert.equal(server.publish("t", message(published)), FAST + 1);
    await slow.waitUntil(() => slow.messages.length === firstMiss + 1, STEP, "the next message");
    assert.equal(sequenceOf(slow.messages.at(-1)!.payload), published);
    await waitUntil(() => fast.every((f) => f.seqs.length === published + 1), STEP, "fast");

    // A send that takes the buffer over the limit says so.
    assert.equal(slowWs.send(new Uint8Array(LIMIT + 1)), "backpressure");
    await slow.waitUntil(() => slow.messages.length === firstMiss + 2, STEP, "the big message");
    assert.equal(slow.messages.at(-1)!.payload.length, LIMIT + 1);
    assert.ok(slow.frames.every((f) => f.opcode === OP.binary), "no close frame");
    assert.deepEqual(closes, []);
  });

  test("is closed with 1008 under closeOnBackpressureLimit", { timeout: 4 * STEP }, async () => {
    const { server, fast, slow, slowWs, firstMiss, closes } = await fillUp(true);
    assert.equal(slowWs.readyState, 2, "closing");
    assert.equal(slowWs.send("direct"), "dropped");

    slow.resume();
    await slow.waitUntil(() => slow.closeCode !== undefined, STEP, "the close frame");
    assert.equal(slow.closeCode, 1008);
    // Everything queued before the limit came first, then the close frame, nothing else.
    assert.deepEqual(slow.messages.map((f) => sequenceOf(f.payload)), range(0, firstMiss));
    assert.equal(slow.frames.length, firstMiss + 1);
    slow.sendClose(1008);
    await slow.waitUntil(() => slow.ended, STEP, "the server to close TCP");
    await waitUntil(() => closes.length === 1, STEP, "the close callback");
    assert.equal(closes[0].id, "slow");
    assert.equal(closes[0].code, 1008);
    assert.equal(server.connectionCount, FAST);
    assert.equal(server.subscriberCount("t"), FAST);
    assert.equal(server.publish("t", message(0)), FAST);
    for (const f of fast) assert.equal(f.socket.readyState, WebSocket.OPEN);
  });
});

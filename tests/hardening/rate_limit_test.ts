/**
 * The per-connection rate limit, with the runtime's own WebSocket clients in a room: a flooder
 * sends 10,000 valid messages as fast as it can, a normal member sends a few, an observer reads
 * the room. The room gets at most the configured rate from the flooder, every message of the
 * normal member, and the flooder is dropped from (or closed) as documented.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type RateLimit, serve, type WebSocketServer } from "../../mod.ts";
import { sleep, waitUntil } from "../helpers/timing.ts";

const FLOOD = 10_000;

interface Room {
  server: WebSocketServer<{ id: string }>;
  /** When the server let each of the flooder's messages through (ms). */
  acceptedAt: number[];
  /** Messages the `rateLimited` callback got, by sender. */
  limited: Map<string, number>;
  closes: Array<{ id: string; code: number; reason: string }>;
}

function startRoom(rateLimit: RateLimit, perMessageDeflate = false): Room {
  const acceptedAt: number[] = [];
  const limited = new Map<string, number>();
  const closes: Room["closes"] = [];
  const server = serve<{ id: string }>({
    hostname: "127.0.0.1",
    port: 0,
    rateLimit,
    perMessageDeflate,
    upgrade(request) {
      return { data: { id: new URL(request.url).searchParams.get("id") ?? "?" } };
    },
    websocket: {
      open(ws) {
        ws.subscribe("room");
      },
      message(ws, message) {
        if (ws.data.id === "flooder") acceptedAt.push(performance.now());
        ws.publish("room", `${ws.data.id}:${message}`);
      },
      rateLimited(ws) {
        limited.set(ws.data.id, (limited.get(ws.data.id) ?? 0) + 1);
      },
      close(ws, code, reason) {
        closes.push({ id: ws.data.id, code, reason });
      },
    },
  });
  return { server, acceptedAt, limited, closes };
}

function open(port: number, id: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/?id=${id}`);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`${id} could not connect`));
  });
}

/** What the observer saw, by sender. */
function observe(ws: WebSocket): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  ws.onmessage = (event) => {
    const [id, body] = String(event.data).split(":", 2);
    if (!seen.has(id)) seen.set(id, []);
    seen.get(id)!.push(body);
  };
  return seen;
}

/** The most a token bucket lets through over the span of `times` (ms), plus one for rounding. */
function allowance(times: number[], perSecond: number, burst: number): number {
  const span = times.length < 2 ? 0 : times[times.length - 1] - times[0];
  return burst + Math.ceil((perSecond * span) / 1000) + 1;
}

const BYTE_LIMIT = { bytesPerSecond: 50_000, byteBurst: 20_000 };

/**
 * Sends 2,000 messages of 1,000 bytes through `send` as fast as it goes, waits until the room has
 * delivered or dropped each, and checks that what got through is within BYTE_LIMIT: at least the
 * burst, at most the burst plus the rate over the span (and the one message the debt allows).
 * Returns how many got through.
 */
async function floodBytes(room: Room, send: (message: string) => void): Promise<number> {
  const body = "x".repeat(999); // with "f" in front: 1,000 bytes each
  for (let i = 0; i < 2_000; i++) send(`f${body}`);
  await waitUntil(
    () => room.acceptedAt.length + (room.limited.get("flooder") ?? 0) === 2_000,
    30_000,
    "every message",
  );
  const delivered = room.acceptedAt.length;
  const { bytesPerSecond, byteBurst } = BYTE_LIMIT;
  const mostBytes = allowance(room.acceptedAt, bytesPerSecond, byteBurst) + 1_000;
  assert.ok(delivered >= byteBurst / 1_000, `the byte burst got through: ${delivered}`);
  assert.ok(delivered * 1_000 <= mostBytes, `${delivered * 1_000} bytes, ${mostBytes} allowed`);
  return delivered;
}

describe("rate limit", () => {
  const rooms: Room[] = [];
  const sockets: WebSocket[] = [];
  after(async () => {
    for (const ws of sockets) ws.close();
    for (const room of rooms) await room.server.stop();
  });

  test("drop: the room gets at most the rate from a flooder, all of a normal member's", {
    timeout: 60_000,
  }, async () => {
    const limit = { messagesPerSecond: 100, messageBurst: 20 };
    const room = startRoom({ ...limit, exceeded: "drop" });
    rooms.push(room);
    const observer = await open(room.server.port, "observer");
    const flooder = await open(room.server.port, "flooder");
    const member = await open(room.server.port, "member");
    sockets.push(observer, flooder, member);
    const seen = observe(observer);

    for (let i = 0; i < FLOOD; i++) flooder.send(`f${i}`);
    // The member talks at a human pace while the flood is on.
    for (let i = 0; i < 10; i++) {
      member.send(`m${i}`);
      await sleep(50);
    }
    const accounted = () =>
      room.acceptedAt.length + (room.limited.get("flooder") ?? 0) === FLOOD &&
      (seen.get("member")?.length ?? 0) === 10;
    await waitUntil(accounted, 30_000, "every message to be delivered or dropped");
    await waitUntil(
      () => (seen.get("flooder")?.length ?? 0) === room.acceptedAt.length,
      10_000,
      "the observer",
    );

    const delivered = room.acceptedAt.length;
    const most = allowance(room.acceptedAt, limit.messagesPerSecond, limit.messageBurst);
    assert.ok(delivered >= limit.messageBurst, `at least the burst got through: ${delivered}`);
    assert.ok(delivered <= most, `${delivered} delivered, at most ${most} allowed`);
    assert.deepEqual(seen.get("member"), Array.from({ length: 10 }, (_, i) => `m${i}`));
    // The flooder's messages that did pass came in order, and the dropped ones are counted.
    const flooderSeen = seen.get("flooder")!;
    const numbers = flooderSeen.map((body) => Number(body.slice(1)));
    assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b));
    const flooderWs = [...room.server.connections()].find((ws) => ws.data.id === "flooder")!;
    assert.equal(flooderWs.rateLimited, FLOOD - delivered);
    assert.equal(room.limited.get("flooder"), FLOOD - delivered);
    assert.equal(room.limited.get("member"), undefined);
    assert.equal(flooder.readyState, WebSocket.OPEN, "dropping keeps the connection");
    assert.deepEqual(room.closes, []);
  });

  test('close: the flooder is closed with 1008 "rate limit exceeded"', {
    timeout: 60_000,
  }, async () => {
    const limit = { messagesPerSecond: 100, messageBurst: 20 };
    const room = startRoom({ ...limit, exceeded: "close" });
    rooms.push(room);
    const observer = await open(room.server.port, "observer");
    const flooder = await open(room.server.port, "flooder");
    sockets.push(observer, flooder);
    const seen = observe(observer);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      flooder.onclose = (event) => resolve({ code: event.code, reason: event.reason });
    });
    for (let i = 0; i < FLOOD; i++) flooder.send(`f${i}`);
    assert.deepEqual(await closed, { code: 1008, reason: "rate limit exceeded" });
    await waitUntil(() => room.closes.length === 1, 10_000, "the close callback");
    assert.deepEqual(room.closes, [{ id: "flooder", code: 1008, reason: "rate limit exceeded" }]);
    const delivered = room.acceptedAt.length;
    assert.ok(delivered >= limit.messageBurst, `${delivered}`);
    assert.ok(delivered <= allowance(room.acceptedAt, 100, 20), `${delivered}`);
    await waitUntil(() => (seen.get("flooder")?.length ?? 0) === delivered, 10_000, "the observer");
    assert.equal(room.limited.size, 0, "nothing was dropped: the connection was");
    // The room goes on without it.
    await waitUntil(() => room.server.connectionCount === 1, 5_000, "one member left");
    assert.equal(observer.readyState, WebSocket.OPEN);
  });

  test("bytes: a flood of large messages is held to the byte rate", {
    timeout: 60_000,
  }, async () => {
    const room = startRoom({ ...BYTE_LIMIT, exceeded: "drop" });
    rooms.push(room);
    const observer = await open(room.server.port, "observer");
    const flooder = await open(room.server.port, "flooder");
    sockets.push(observer, flooder);
    const seen = observe(observer);
    const delivered = await floodBytes(room, (message) => flooder.send(message));
    await waitUntil(() => (seen.get("flooder")?.length ?? 0) === delivered, 10_000, "the observer");
  });

  test("bytes: a compressed message counts its size after inflating", {
    timeout: 60_000,
  }, async () => {
    const room = startRoom({ ...BYTE_LIMIT, exceeded: "drop" }, true);
    rooms.push(room);
    // Our client: it compresses what it sends (the runtimes' clients may not).
    const flooder = await connect(`ws://127.0.0.1:${room.server.port}/?id=flooder`, {
      perMessageDeflate: { threshold: 0 },
    });
    assert.match(flooder.extensions, /permessage-deflate/);
    await floodBytes(room, (message) => flooder.send(message)); // a few bytes each on the wire
    flooder.close();
    await flooder.closed;
  });
});

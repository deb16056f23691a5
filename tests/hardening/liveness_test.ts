/**
 * Dead peers, timed. With `heartbeatInterval`, a peer that has sent nothing since the previous
 * ping is dropped at the next one: one interval after the ping it did not answer, between one and
 * two intervals after it fell silent, reported as 1011 "heartbeat timeout" and without a closing
 * handshake; a peer that answers every ping stays. With `idleTimeout` and `idlePing`, a silent
 * peer gets a ping halfway through the timeout and a 1001 "idle timeout" close at the timeout; a
 * peer that answers the pings stays.
 *
 * Every time is measured in this process, where the server runs, from the server's `open`
 * callback (the timers start just before it). The bounds leave 250 ms or more for a loaded
 * machine's late timers, and still fail for a drop one interval late, or a ping at a quarter or
 * nine tenths of the idle timeout.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ServeOptions, WebSocketServer } from "../../mod.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { sleep } from "../helpers/timing.ts";
import { startServer } from "../helpers/servers.ts";
import { clientFrame, closeCodeOf, OP, type ServerFrame, text } from "../helpers/wire.ts";

const HEARTBEAT = 500;
const IDLE = 1200;

/** A server that records when each connection opened and how it closed, in order. */
function serverWithCloses(options: ServeOptions) {
  const opens: number[] = [];
  const closes: Array<{ code: number; reason: string; at: number }> = [];
  const waiters: Array<() => void> = [];
  const server: WebSocketServer = startServer({
    ...options,
    websocket: {
      open() {
        opens.push(Date.now());
      },
      message(ws, message) {
        ws.send(message);
      },
      close(_ws, code, reason) {
        closes.push({ code, reason, at: Date.now() });
        for (const wake of waiters.splice(0)) wake();
      },
    },
  });
  const nextClose = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (closes.length === 0) {
      if (Date.now() > deadline) throw new Error(`no close within ${ms} ms`);
      await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(50)]);
    }
    return closes[0];
  };
  return { server, opens, closes, nextClose };
}

/** A frame and when it arrived. */
interface Seen {
  frame: ServerFrame;
  at: number;
}

/**
 * Reads every frame until the server closes TCP (or `ms` pass), answering pings with pongs while
 * `answer(ping number)` says so. Returns what arrived and when TCP ended (null: it did not).
 */
async function readFrames(
  client: RawClient,
  ms: number,
  answer: (ping: number) => boolean,
): Promise<{ seen: Seen[]; endedAt: number | null; pongsSent: number[] }> {
  const seen: Seen[] = [];
  const pongsSent: number[] = [];
  const deadline = Date.now() + ms;
  let pings = 0;
  while (Date.now() < deadline) {
    let frame: ServerFrame;
    try {
      frame = await client.nextFrame(deadline - Date.now());
    } catch {
      break; // the server closed TCP, or the time is up
    }
    seen.push({ frame, at: Date.now() });
    if (frame.opcode === OP.ping && answer(++pings)) {
      client.write(clientFrame(OP.pong, frame.payload));
      pongsSent.push(Date.now());
    }
  }
  return { seen, endedAt: client.ended ? Date.now() : null, pongsSent };
}

/** Asserts `value` is within [low, high], with a message naming it. */
function between(value: number, low: number, high: number, what: string): void {
  assert.ok(
    value >= low && value <= high,
    `${what}: ${value} ms, expected ${Math.round(low)}–${Math.round(high)} ms`,
  );
}

describe("liveness", () => {
  const servers: WebSocketServer[] = [];
  const clients: RawClient[] = [];
  after(async () => {
    for (const client of clients) client.destroy();
    for (const server of servers) await server.stop();
  });

  test("heartbeat: a peer that never reads or sends is dropped at the second ping, 1011", {
    timeout: 20_000,
  }, async () => {
    const { server, opens, closes, nextClose } = serverWithCloses({
      heartbeatInterval: HEARTBEAT,
      idleTimeout: 0,
    });
    servers.push(server);
    const dead = await RawClient.open(server.port);
    clients.push(dead);
    dead.socket.pause(); // reads nothing, answers nothing
    const close = await nextClose(12 * HEARTBEAT);
    const elapsed = close.at - opens[0];
    console.log(`heartbeat: a peer silent from the start dropped after ${elapsed} ms`);
    assert.deepEqual({ code: close.code, reason: close.reason }, {
      code: 1011,
      reason: "heartbeat timeout",
    });
    // A ping at one interval, the drop at the next: two intervals (not one, not three).
    between(elapsed, 1.5 * HEARTBEAT, 2.6 * HEARTBEAT, "dropped after");
    assert.equal(server.connectionCount, 0);
    assert.equal(closes.length, 1);
    // What reached it: the one ping, and no close frame (dropped without a closing handshake).
    dead.socket.resume();
    const { seen, endedAt } = await readFrames(dead, 5_000, () => false);
    assert.notEqual(endedAt, null, "the server closed TCP");
    assert.deepEqual(seen.map((s) => s.frame.opcode), [OP.ping]);
  });

  test("heartbeat: a peer that stops answering is dropped one interval after the unanswered ping", {
    timeout: 20_000,
  }, async () => {
    const { server, opens, closes, nextClose } = serverWithCloses({
      heartbeatInterval: HEARTBEAT,
      idleTimeout: 0,
    });
    servers.push(server);
    const client = await RawClient.open(server.port);
    clients.push(client);
    // It answers the first two pings, then reads on but sends nothing.
    const { seen, endedAt, pongsSent } = await readFrames(client, 12 * HEARTBEAT, (n) => n <= 2);
    const close = await nextClose(1_000);
    const pings = seen.filter((s) => s.frame.opcode === OP.ping).map((s) => s.at - opens[0]);
    const silentFor = close.at - pongsSent[pongsSent.length - 1];
    const afterUnanswered = close.at - (opens[0] + pings[2]);
    console.log(
      `heartbeat: pings at ${pings.join(", ")} ms; dropped ${silentFor} ms after the last pong, ` +
        `${afterUnanswered} ms after the unanswered ping`,
    );
    assert.deepEqual({ code: close.code, reason: close.reason }, {
      code: 1011,
      reason: "heartbeat timeout",
    });
    assert.notEqual(endedAt, null, "the server closed TCP");
    assert.equal(pongsSent.length, 2);
    // Two answered pings, one unanswered, then the drop: no close frame, no fourth ping.
    assert.deepEqual(seen.map((s) => s.frame.opcode), [OP.ping, OP.ping, OP.ping]);
    for (let i = 0; i < pings.length; i++) {
      between(pings[i], (i + 1) * HEARTBEAT - 50, (i + 1.5) * HEARTBEAT, `ping ${i + 1}`);
    }
    between(afterUnanswered, 0.8 * HEARTBEAT, 1.6 * HEARTBEAT, "dropped after the unanswered ping");
    between(silentFor, HEARTBEAT, 2.6 * HEARTBEAT, "dropped after falling silent");
    assert.equal(server.connectionCount, 0);
    assert.equal(closes.length, 1);
  });

  test("heartbeat: a peer that answers every ping stays connected", {
    timeout: 20_000,
  }, async () => {
    const { server, closes } = serverWithCloses({ heartbeatInterval: HEARTBEAT, idleTimeout: 0 });
    servers.push(server);
    const live = await RawClient.open(server.port);
    clients.push(live);
    const started = Date.now();
    const { seen, endedAt } = await readFrames(live, 6 * HEARTBEAT, () => true);
    const pings = seen.filter((s) => s.frame.opcode === OP.ping).length;
    console.log(`heartbeat: ${pings} pings answered in ${Date.now() - started} ms`);
    // A ping every interval (6 due; a late timer may push the last one past the end).
    assert.ok(pings >= 4 && pings <= 7, `${pings} pings in six intervals`);
    assert.deepEqual(seen.map((s) => s.frame.opcode), new Array(pings).fill(OP.ping));
    assert.equal(endedAt, null, "still connected");
    assert.deepEqual(closes, []);
    assert.equal(server.connectionCount, 1);
  });

  test("idleTimeout: a silent peer gets a ping at half the timeout, then 1001 at the timeout", {
    timeout: 20_000,
  }, async () => {
    const CLOSE_TIMEOUT = 600;
    const { server, opens, nextClose } = serverWithCloses({
      idleTimeout: IDLE,
      idlePing: true,
      closeTimeout: CLOSE_TIMEOUT,
    });
    servers.push(server);
    const silent = await RawClient.open(server.port);
    clients.push(silent);
    // It reads (to see what arrives and when) but never sends a byte, not even a pong.
    const { seen, endedAt } = await readFrames(silent, 4 * IDLE + CLOSE_TIMEOUT, () => false);
    const times = seen.map((s) => s.at - opens[0]);
    console.log(
      `idle: ${seen.map((s, i) => `opcode ${s.frame.opcode} at ${times[i]} ms`).join(", ")}; ` +
        `TCP closed at ${endedAt === null ? "never" : endedAt - opens[0]} ms`,
    );
    assert.deepEqual(seen.map((s) => s.frame.opcode), [OP.ping, OP.close]);
    between(times[0], 0.4 * IDLE, 0.75 * IDLE, "the ping");
    const close = seen[1].frame;
    assert.equal(closeCodeOf(close), 1001);
    assert.equal(text(close.payload.subarray(2)), "idle timeout");
    between(times[1], 0.9 * IDLE, 1.5 * IDLE, "the 1001 close");
    // It did not answer the close either: dropped at the close timeout, reported as 1006.
    assert.notEqual(endedAt, null, "the server closed TCP");
    between(endedAt! - seen[1].at, 0.8 * CLOSE_TIMEOUT, 2 * CLOSE_TIMEOUT, "TCP closed after");
    const closed = await nextClose(1_000);
    assert.equal(closed.code, 1006);
    assert.equal(server.connectionCount, 0);
  });

  test("idleTimeout: a peer that answers the pings stays open", {
    timeout: 20_000,
  }, async () => {
    const { server, closes } = serverWithCloses({ idleTimeout: IDLE, idlePing: true });
    servers.push(server);
    const quiet = await RawClient.open(server.port);
    clients.push(quiet);
    const { seen, endedAt } = await readFrames(quiet, 3 * IDLE, () => true);
    const pings = seen.filter((s) => s.frame.opcode === OP.ping).length;
    console.log(`idle: ${pings} pings answered in three idle timeouts`);
    // A ping half a timeout after each pong: about six; only pings, never a close.
    assert.ok(pings >= 3 && pings <= 7, `${pings} pings`);
    assert.deepEqual(seen.map((s) => s.frame.opcode), new Array(pings).fill(OP.ping));
    assert.equal(endedAt, null, "still connected");
    assert.deepEqual(closes, []);
    assert.equal(server.connectionCount, 1);
  });
});

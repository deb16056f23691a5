/**
 * Dead peers: with `heartbeatInterval`, a client that stops answering (never reads, never sends)
 * is dropped within about two intervals and reported as 1011 "heartbeat timeout", while one that
 * answers pings stays; with `idleTimeout` and `idlePing`, a silent client gets a ping, then a
 * 1001 close, while one that answers the ping stays open.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketServer } from "../../mod.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { sleep } from "../helpers/timing.ts";
import { startRecordingServer, type Tag } from "../helpers/recording_server.ts";
import { clientFrame, closeCodeOf, OP, text } from "../helpers/wire.ts";

const HEARTBEAT = 300;
const IDLE = 600;

/** Answers every ping with a pong, in the background, until stopped. */
function answerPings(client: RawClient): { pings: () => number; stop: () => void } {
  let running = true;
  let pings = 0;
  (async () => {
    while (running) {
      const frame = await client.nextFrame(60_000).catch(() => null);
      if (frame === null) return;
      if (frame.opcode === OP.ping) {
        pings++;
        client.write(clientFrame(OP.pong, frame.payload));
      }
    }
  })();
  return { pings: () => pings, stop: () => running = false };
}

describe("liveness", () => {
  const servers: WebSocketServer<Tag>[] = [];
  const clients: RawClient[] = [];
  after(async () => {
    for (const client of clients) client.destroy();
    for (const server of servers) await server.stop();
  });

  test("heartbeat: a peer that stops answering is dropped with 1011", {
    timeout: 20_000,
  }, async () => {
    const { server, closes, firstClose } = startRecordingServer({
      heartbeatInterval: HEARTBEAT,
      idleTimeout: 0,
    });
    servers.push(server);
    const dead = await RawClient.open(server.port);
    clients.push(dead);
    const opened = Date.now();
    dead.socket.pause(); // reads nothing, answers nothing
    const close = await firstClose(10 * HEARTBEAT);
    console.log(`heartbeat: dead peer dropped after ${close.at - opened} ms`);
    assert.deepEqual({ code: close.code, reason: close.reason }, {
      code: 1011,
      reason: "heartbeat timeout",
    });
    assert.equal(server.connectionCount, 0);
    assert.equal(closes.length, 1);
  });

  test("heartbeat: a peer that answers pings stays connected", {
    timeout: 20_000,
  }, async () => {
    const { server, closes } = startRecordingServer({
      heartbeatInterval: HEARTBEAT,
      idleTimeout: 0,
    });
    servers.push(server);
    const live = await RawClient.open(server.port);
    clients.push(live);
    const answering = answerPings(live);
    await sleep(6 * HEARTBEAT);
    assert.ok(answering.pings() >= 2, `${answering.pings()} pings`);
    assert.deepEqual(closes, []);
    assert.equal(server.connectionCount, 1);
    assert.equal(live.ended, false);
    answering.stop();
  });

  test("idleTimeout: a silent peer gets a ping, then a 1001 close", {
    timeout: 20_000,
  }, async () => {
    const { server, firstClose } = startRecordingServer({
      idleTimeout: IDLE,
      idlePing: true,
      closeTimeout: 500,
    });
    servers.push(server);
    const silent = await RawClient.open(server.port);
    clients.push(silent);
    // It reads (to see what arrives) but never sends a byte, not even a pong.
    const first = await silent.nextFrame(10 * IDLE);
    assert.equal(first.opcode, OP.ping, "a ping halfway through the idle timeout");
    const second = await silent.nextFrame(10 * IDLE);
    assert.equal(second.opcode, OP.close);
    assert.equal(closeCodeOf(second), 1001);
    assert.equal(text(second.payload.subarray(2)), "idle timeout");
    await silent.waitForEnd(10 * IDLE);
    // It did not answer the close either: dropped at the close timeout, reported as 1006.
    const close = await firstClose(10 * IDLE);
    assert.equal(close.code, 1006);
    assert.equal(server.connectionCount, 0);
  });

  test("idleTimeout: a peer that answers the pings stays open", {
    timeout: 20_000,
  }, async () => {
    const { server, closes } = startRecordingServer({ idleTimeout: IDLE, idlePing: true });
    servers.push(server);
    const quiet = await RawClient.open(server.port);
    clients.push(quiet);
    const answering = answerPings(quiet);
    await sleep(4 * IDLE);
    assert.ok(answering.pings() >= 2, `${answering.pings()} pings`);
    assert.deepEqual(closes, []);
    assert.equal(server.connectionCount, 1);
    answering.stop();
  });
});

/**
 * Pings and pongs (RFC 6455 §5.5.2, §5.5.3; the ground of the Autobahn suite's section 2): every
 * ping is answered with a pong carrying the same payload, in order; unsolicited pongs are ignored;
 * a control frame over 125 bytes or with FIN clear fails the connection with 1002.
 *
 * Each test sends raw bytes and checks every byte the server sends back until it closes TCP.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { concat } from "../helpers/bytes.ts";
import { bytes, clientFrame, OP, serverFrame } from "../helpers/wire.ts";
import {
  assertBytes,
  assertFailed,
  CLIENT_CLOSE,
  closedWith,
  exchange,
  recordingSuite,
  SERVER_CLOSE,
} from "./_exchange.ts";

// ------------------------------------------------------------------------------------ helpers

const binaryPayload = Uint8Array.from([0x00, 0xff, 0xfe, 0x80, 0xc0, 0x01, 0x7f, 0xed, 0xa0, 0x80]);
const payload125 = Uint8Array.from({ length: 125 }, (_, i) => (i * 7 + 3) & 0xff);

// -------------------------------------------------------------------------------------- tests

describe("pings and pongs", () => {
  const open = recordingSuite();

  test("a ping without payload is answered with an empty pong", async () => {
    const { client, entry } = await open();
    const received = await exchange(client, concat(clientFrame(OP.ping), CLIENT_CLOSE));
    assertBytes(received, concat(Uint8Array.from([0x8a, 0x00]), SERVER_CLOSE));
    assert.deepEqual(entry.pings, [new Uint8Array(0)]);
    assert.equal((await closedWith(entry)).code, 1000);
  });

  test("a ping with a text payload gets a pong with the same payload", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.ping, "Hello, world!"), CLIENT_CLOSE),
    );
    assertBytes(received, concat(serverFrame(OP.pong, "Hello, world!"), SERVER_CLOSE));
    assert.deepEqual(entry.pings, [bytes("Hello, world!")]);
    assert.deepEqual(entry.messages, []);
  });

  test("a ping with a binary payload (not UTF-8) gets a pong with the same bytes", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.ping, binaryPayload), CLIENT_CLOSE),
    );
    assertBytes(received, concat(serverFrame(OP.pong, binaryPayload), SERVER_CLOSE));
    assert.deepEqual(entry.pings, [binaryPayload]);
  });

  test("a ping with 125 bytes (the most allowed) gets a pong with the same 125 bytes", async () => {
    const { client } = await open();
    const received = await exchange(client, concat(clientFrame(OP.ping, payload125), CLIENT_CLOSE));
    const pong = concat(Uint8Array.from([0x8a, 0x7d]), payload125);
    assertBytes(received, concat(pong, SERVER_CLOSE));
  });

  test("a ping with 126 bytes fails the connection with 1002 and gets no pong", async () => {
    const { client, entry } = await open();
    const ping = clientFrame(OP.ping, new Uint8Array(126).fill(0x41));
    assert.equal(ping[1] & 0x7f, 126, "16-bit length encoding");
    const received = await exchange(client, ping);
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.pings, []);
    assert.equal((await closedWith(entry)).code, 1002);
  });

  test("a pong with 126 bytes fails the connection with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(client, clientFrame(OP.pong, new Uint8Array(126)));
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.pongs, []);
    assert.equal((await closedWith(entry)).code, 1002);
  });

  test("a ping with FIN clear (a fragmented control frame) fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(client, clientFrame(OP.ping, "abc", { fin: false }));
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.pings, []);
  });

  test("a 125-byte ping sent one byte per write is answered whole", async () => {
    const { client, entry } = await open();
    await client.writeInPieces(clientFrame(OP.ping, payload125), 1);
    const received = await exchange(client, CLIENT_CLOSE);
    assertBytes(received, concat(serverFrame(OP.pong, payload125), SERVER_CLOSE));
    assert.deepEqual(entry.pings, [payload125]);
  });

  test("an unsolicited empty pong is not answered, and messages still echo", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.pong), clientFrame(OP.text, "after pong"), CLIENT_CLOSE),
    );
    assertBytes(received, concat(serverFrame(OP.text, "after pong"), SERVER_CLOSE));
    assert.deepEqual(entry.pongs, [new Uint8Array(0)]);
    assert.deepEqual(entry.messages, ["after pong"]);
  });

  test("an unsolicited pong with payload reaches the pong callback and nothing is sent", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.pong, binaryPayload), CLIENT_CLOSE),
    );
    assertBytes(received, SERVER_CLOSE);
    assert.deepEqual(entry.pongs, [binaryPayload]);
    assert.deepEqual(entry.pings, []);
    assert.equal((await closedWith(entry)).code, 1000);
  });

  test("an unsolicited pong, then a ping: one pong, with the ping's payload", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.pong, "unsolicited"), clientFrame(OP.ping, "solicited"), CLIENT_CLOSE),
    );
    assertBytes(received, concat(serverFrame(OP.pong, "solicited"), SERVER_CLOSE));
    assert.deepEqual(entry.pongs, [bytes("unsolicited")]);
  });

  test("ten pings in one write get ten pongs, in order", async () => {
    const { client, entry } = await open();
    const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
    const received = await exchange(
      client,
      concat(...payloads.map((p) => clientFrame(OP.ping, p)), CLIENT_CLOSE),
    );
    assertBytes(received, concat(...payloads.map((p) => serverFrame(OP.pong, p)), SERVER_CLOSE));
    assert.deepEqual(entry.pings, payloads.map((p) => bytes(p)));
  });

  test("ten pings cut into 7-byte writes (frames split at odd places) get ten pongs", async () => {
    const { client } = await open();
    const payloads = Array.from({ length: 10 }, (_, i) => "x".repeat(i * 12));
    await client.writeInPieces(concat(...payloads.map((p) => clientFrame(OP.ping, p))), 7);
    const received = await exchange(client, CLIENT_CLOSE);
    assertBytes(received, concat(...payloads.map((p) => serverFrame(OP.pong, p)), SERVER_CLOSE));
  });

  test("1000 pings in one write get 1000 pongs, in order", async () => {
    const { client, entry } = await open();
    const payloads = Array.from({ length: 1000 }, (_, i) => `#${i}`);
    const received = await exchange(
      client,
      concat(...payloads.map((p) => clientFrame(OP.ping, p)), CLIENT_CLOSE),
    );
    assertBytes(received, concat(...payloads.map((p) => serverFrame(OP.pong, p)), SERVER_CLOSE));
    assert.equal(entry.pings.length, 1000);
  });

  test("pongs and echoes keep the order of the frames that caused them, large frames too", async () => {
    const { client } = await open();
    const big = "b".repeat(70_000); // over 64 KiB: the echo is written as a frame of its own
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.ping, "first"),
        clientFrame(OP.text, "small"),
        clientFrame(OP.ping, "second"),
        clientFrame(OP.text, big),
        clientFrame(OP.ping, "third"),
        CLIENT_CLOSE,
      ),
    );
    assertBytes(
      received,
      concat(
        serverFrame(OP.pong, "first"),
        serverFrame(OP.text, "small"),
        serverFrame(OP.pong, "second"),
        serverFrame(OP.text, big),
        serverFrame(OP.pong, "third"),
        SERVER_CLOSE,
      ),
    );
  });

  test("each ping is answered before the next one is sent", async () => {
    const { client } = await open();
    for (let i = 0; i < 5; i++) {
      client.write(clientFrame(OP.ping, `round ${i}`));
      const pong = await client.nextFrame();
      assert.equal(pong.opcode, OP.pong);
      assert.deepEqual(pong.payload, bytes(`round ${i}`));
    }
    assertBytes(await exchange(client, CLIENT_CLOSE), SERVER_CLOSE);
  });

  test("a ping after the client's close frame is not answered", async () => {
    const { client, entry } = await open();
    const received = await exchange(client, concat(CLIENT_CLOSE, clientFrame(OP.ping, "late")));
    assertBytes(received, SERVER_CLOSE);
    assert.deepEqual(entry.pings, []);
  });

  test("a ping after a protocol error is not answered", async () => {
    const { client } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.ping, "x".repeat(126)), clientFrame(OP.ping, "late")),
    );
    assertFailed(received, new Uint8Array(0), 1002);
  });

  test("a ping from the server is unmasked, and the client's pong reaches the callback", async () => {
    const { client, entry } = await open("/server-ping");
    const ping = await client.nextFrame();
    assert.deepEqual(
      { fin: ping.fin, rsv: ping.rsv, opcode: ping.opcode, masked: ping.masked },
      { fin: true, rsv: 0, opcode: OP.ping, masked: false },
    );
    assert.deepEqual(ping.payload, bytes("from server"));
    const received = await exchange(
      client,
      concat(clientFrame(OP.pong, ping.payload), CLIENT_CLOSE),
    );
    assertBytes(received, SERVER_CLOSE);
    assert.deepEqual(entry.pongs, [bytes("from server")]);
  });
});

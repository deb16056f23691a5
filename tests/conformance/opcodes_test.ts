/**
 * Opcodes (RFC 6455 §5.2; the ground of the Autobahn suite's section 4): the reserved data opcodes
 * 3–7 and the reserved control opcodes 0xB–0xF fail the connection with 1002, with or without a
 * payload, and nothing after them is read. Frames before them in the same write are still handled.
 *
 * Each test sends raw bytes and checks every byte the server sends back until it closes TCP.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { concat } from "../helpers/bytes.ts";
import { clientFrame, OP, serverFrame } from "../helpers/wire.ts";
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

const RESERVED_DATA = [3, 4, 5, 6, 7];
const RESERVED_CONTROL = [0xb, 0xc, 0xd, 0xe, 0xf];
const RESERVED = [...RESERVED_DATA, ...RESERVED_CONTROL];
const name = (opcode: number) => `0x${opcode.toString(16).toUpperCase()}`;

// -------------------------------------------------------------------------------------- tests

describe("opcodes", () => {
  const open = recordingSuite();

  for (const opcode of RESERVED) {
    test(`reserved opcode ${name(opcode)} without payload fails with 1002`, async () => {
      const { client, entry } = await open();
      assertFailed(await exchange(client, clientFrame(opcode)), new Uint8Array(0), 1002);
      assert.deepEqual(entry.messages, []);
      assert.equal((await closedWith(entry)).code, 1002);
    });

    test(`reserved opcode ${name(opcode)} with a payload fails with 1002`, async () => {
      const { client, entry } = await open();
      const received = await exchange(client, clientFrame(opcode, "reserved payload"));
      assertFailed(received, new Uint8Array(0), 1002);
      assert.deepEqual(entry.messages, []);
      assert.deepEqual(entry.pings, []);
      assert.deepEqual(entry.pongs, []);
    });

    test(`text, then reserved opcode ${name(opcode)}, then a ping, in one write: echo, 1002, no pong`, async () => {
      const { client, entry } = await open();
      const received = await exchange(
        client,
        concat(
          clientFrame(OP.text, "Hello, world!"),
          clientFrame(opcode, "reserved"),
          clientFrame(OP.ping, "not answered"),
        ),
      );
      assertFailed(received, serverFrame(OP.text, "Hello, world!"), 1002);
      assert.deepEqual(entry.messages, ["Hello, world!"]);
      assert.deepEqual(entry.pings, []);
    });
  }

  test("text, then a reserved opcode and a ping after the echo arrived: 1002, no pong", async () => {
    const { client, entry } = await open();
    client.write(clientFrame(OP.text, "Hello, world!"));
    const echo = await client.nextFrame();
    assert.equal(echo.opcode, OP.text);
    client.write(concat(clientFrame(6, "reserved"), clientFrame(OP.ping)));
    await client.waitForEnd();
    assertFailed(client.pending, new Uint8Array(0), 1002);
    assert.deepEqual(entry.pings, []);
  });

  test("text, reserved opcode 0xD, ping, sent one byte per write: echo, then 1002", async () => {
    const { client } = await open();
    const data = concat(
      clientFrame(OP.text, "Hello, world!"),
      clientFrame(0xd, "reserved"),
      clientFrame(OP.ping),
    );
    await client.writeInPieces(data, 1);
    await client.waitForEnd();
    assertFailed(client.pending, serverFrame(OP.text, "Hello, world!"), 1002);
  });

  test("a reserved opcode with FIN clear fails with 1002", async () => {
    const { client } = await open();
    const received = await exchange(client, clientFrame(4, "abc", { fin: false }));
    assertFailed(received, new Uint8Array(0), 1002);
  });

  test("a reserved control opcode with 126 bytes fails with 1002", async () => {
    const { client } = await open();
    const received = await exchange(client, clientFrame(0xc, new Uint8Array(126)));
    assertFailed(received, new Uint8Array(0), 1002);
  });

  test("a reserved opcode inside a fragmented message fails with 1002; the message is dropped", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "frag", { fin: false }),
        clientFrame(3, "ment"),
        clientFrame(OP.cont, "end"),
      ),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("a reserved control opcode between fragments fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.binary, [1, 2], { fin: false }),
        clientFrame(0xb),
        clientFrame(OP.cont, [3, 4]),
      ),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("text echoes as text (0x81) and binary as binary (0x82)", async () => {
    const { client, entry } = await open();
    const binary = Uint8Array.from([0xff, 0x00, 0x80]);
    const received = await exchange(
      client,
      concat(clientFrame(OP.text, "text"), clientFrame(OP.binary, binary), CLIENT_CLOSE),
    );
    assertBytes(
      received,
      concat(
        Uint8Array.from([0x81, 0x04]),
        new TextEncoder().encode("text"),
        Uint8Array.from([0x82, 0x03]),
        binary,
        SERVER_CLOSE,
      ),
    );
    assert.equal(entry.messages.length, 2);
    assert.equal(entry.messages[0], "text");
    assert.ok(entry.messages[1] instanceof Uint8Array, "a binary message arrives as bytes");
    assert.deepEqual(entry.messages[1], binary);
  });
});

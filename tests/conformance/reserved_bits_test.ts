/**
 * Reserved bits (RFC 6455 §5.2; the ground of the Autobahn suite's section 3): with no extension
 * negotiated, a frame with RSV1, RSV2 or RSV3 set fails the connection with 1002, whatever its
 * opcode, and nothing after it is read. Frames before it in the same write are still handled.
 *
 * Each test sends raw bytes and checks every byte the server sends back until it closes TCP.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { concat } from "../helpers/bytes.ts";
import { clientFrame, closePayload, OP, serverFrame } from "../helpers/wire.ts";
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

const RSV1 = 4;
const RSV2 = 2;
const RSV3 = 1;

// -------------------------------------------------------------------------------------- tests

describe("reserved bits", () => {
  const open = recordingSuite();

  /** Every combination of the three bits but none. */
  const combinations = [1, 2, 3, 4, 5, 6, 7];
  const names = (rsv: number) =>
    [rsv & RSV1 ? "RSV1" : "", rsv & RSV2 ? "RSV2" : "", rsv & RSV3 ? "RSV3" : ""]
      .filter((n) => n !== "").join("+");

  for (const rsv of combinations) {
    test(`a text frame with ${names(rsv)} fails with 1002 and is not delivered`, async () => {
      const { client, entry } = await open();
      const received = await exchange(client, clientFrame(OP.text, "Hello", { rsv }));
      assertFailed(received, new Uint8Array(0), 1002);
      assert.deepEqual(entry.messages, []);
      assert.equal((await closedWith(entry)).code, 1002);
    });
  }

  test("a valid frame before the bad one in the same write is echoed first; the ping after is not answered", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "Hello, world!"),
        clientFrame(OP.text, "Hello, world!", { rsv: RSV2 }),
        clientFrame(OP.ping),
      ),
    );
    assertFailed(received, serverFrame(OP.text, "Hello, world!"), 1002);
    assert.deepEqual(entry.messages, ["Hello, world!"]);
    assert.equal((await closedWith(entry)).code, 1002);
  });

  test("the same, frame by frame: the echo comes before the bad frame is sent", async () => {
    const { client, entry } = await open();
    client.write(clientFrame(OP.text, "Hello, world!"));
    const echo = await client.nextFrame();
    assert.deepEqual(
      { fin: echo.fin, rsv: echo.rsv, opcode: echo.opcode, masked: echo.masked },
      { fin: true, rsv: 0, opcode: OP.text, masked: false },
    );
    client.write(
      concat(clientFrame(OP.text, "Hello, world!", { rsv: RSV1 | RSV2 }), clientFrame(OP.ping)),
    );
    await client.waitForEnd();
    assertFailed(client.pending, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, ["Hello, world!"]);
  });

  test("the same, sent one byte per write", async () => {
    const { client, entry } = await open();
    const data = concat(
      clientFrame(OP.text, "Hello, world!"),
      clientFrame(OP.text, "Hello, world!", { rsv: RSV3 }),
      clientFrame(OP.ping),
    );
    await client.writeInPieces(data, 1);
    await client.waitForEnd();
    assertFailed(client.pending, serverFrame(OP.text, "Hello, world!"), 1002);
    assert.deepEqual(entry.messages, ["Hello, world!"]);
  });

  test("a binary frame with RSV1+RSV3 fails with 1002", async () => {
    const { client, entry } = await open();
    const payload = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const received = await exchange(client, clientFrame(OP.binary, payload, { rsv: RSV1 | RSV3 }));
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("an empty frame with RSV1 fails with 1002", async () => {
    const { client } = await open();
    assertFailed(
      await exchange(client, clientFrame(OP.binary, [], { rsv: RSV1 })),
      new Uint8Array(0),
      1002,
    );
  });

  test("a ping with RSV2+RSV3 fails with 1002 and gets no pong", async () => {
    const { client, entry } = await open();
    const received = await exchange(client, clientFrame(OP.ping, "ping", { rsv: RSV2 | RSV3 }));
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.pings, []);
  });

  test("a pong with RSV1 fails with 1002 and does not reach the pong callback", async () => {
    const { client, entry } = await open();
    const received = await exchange(client, clientFrame(OP.pong, "pong", { rsv: RSV1 }));
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.pongs, []);
  });

  test("a close frame with all three bits fails with 1002 (not a clean 1000)", async () => {
    const { client, entry } = await open();
    const close = clientFrame(OP.close, closePayload(1000), { rsv: RSV1 | RSV2 | RSV3 });
    const received = await exchange(client, close);
    assertFailed(received, new Uint8Array(0), 1002);
    assert.equal((await closedWith(entry)).code, 1002);
  });

  test("a continuation frame with RSV1 fails with 1002 and the message is not delivered", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "frag", { fin: false }),
        clientFrame(OP.cont, "ment", { rsv: RSV1 }),
      ),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("the first frame of a fragmented message with RSV2 fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "frag", { fin: false, rsv: RSV2 }),
        clientFrame(OP.cont, "ment"),
      ),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("frames without reserved bits echo with none set", async () => {
    const { client } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.text, "plain"), clientFrame(OP.binary, [1, 2, 3]), CLIENT_CLOSE),
    );
    assertBytes(
      received,
      concat(serverFrame(OP.text, "plain"), serverFrame(OP.binary, [1, 2, 3]), SERVER_CLOSE),
    );
  });
});

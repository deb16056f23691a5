/**
 * Fragmentation (RFC 6455 §5.4; the ground of the Autobahn suite's section 5): a message may come
 * in any number of frames (a first frame with FIN clear, continuations, a last one with FIN set),
 * with control frames between them but never another data message; control frames are never
 * fragmented; a continuation with nothing to continue fails the connection with 1002. The
 * application sees each fragmented message once, whole, and the echo server sends it back as one
 * frame.
 *
 * Each test sends raw bytes and checks every byte the server sends back until it closes TCP.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketServer } from "../../mod.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { sleep } from "../helpers/timing.ts";
import { startServer } from "../helpers/servers.ts";
import { concat } from "../helpers/bytes.ts";
import {
  bytes,
  clientFrame,
  closeCodeOf,
  closePayload,
  OP,
  readFrames,
  serverFrame,
} from "../helpers/wire.ts";
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

/** `message` cut into data frames at `cuts` (offsets into its bytes). */
function fragments(opcode: number, message: Uint8Array, cuts: number[]): Uint8Array[] {
  const edges = [0, ...cuts, message.length];
  const frames: Uint8Array[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const first = i === 0;
    const last = i + 2 === edges.length;
    frames.push(
      clientFrame(first ? opcode : OP.cont, message.subarray(edges[i], edges[i + 1]), {
        fin: last,
      }),
    );
  }
  return frames;
}

const encoder = new TextEncoder();

// -------------------------------------------------------------------------------------- tests

describe("fragmentation", () => {
  const open = recordingSuite();

  test("a ping in two fragments fails with 1002 and gets no pong", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.ping, "frag", { fin: false }), clientFrame(OP.cont, "ment")),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.pings, []);
  });

  test("a pong in two fragments fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.pong, "frag", { fin: false }), clientFrame(OP.cont, "ment")),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.pongs, []);
  });

  test("a close frame with FIN clear fails with 1002 (not a clean close)", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      clientFrame(OP.close, closePayload(1000), { fin: false }),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.equal((await closedWith(entry)).code, 1002);
  });

  test("text in two fragments is delivered and echoed as one message", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "fragment1", { fin: false }),
        clientFrame(OP.cont, "fragment2"),
        CLIENT_CLOSE,
      ),
    );
    assertBytes(received, concat(serverFrame(OP.text, "fragment1fragment2"), SERVER_CLOSE));
    assert.deepEqual(entry.messages, ["fragment1fragment2"]);
    assert.equal((await closedWith(entry)).code, 1000);
  });

  test("text in two fragments, written frame by frame", async () => {
    const { client, entry } = await open();
    client.write(clientFrame(OP.text, "fragment1", { fin: false }));
    await sleep(5);
    client.write(clientFrame(OP.cont, "fragment2"));
    const echo = await client.nextFrame();
    assert.equal(echo.opcode, OP.text);
    assert.equal(echo.fin, true);
    assert.deepEqual(echo.payload, bytes("fragment1fragment2"));
    assertBytes(await exchange(client, CLIENT_CLOSE), SERVER_CLOSE);
    assert.deepEqual(entry.messages, ["fragment1fragment2"]);
  });

  test("text in two fragments, written one byte per write", async () => {
    const { client, entry } = await open();
    await client.writeInPieces(
      concat(clientFrame(OP.text, "fragment1", { fin: false }), clientFrame(OP.cont, "fragment2")),
      1,
    );
    const received = await exchange(client, CLIENT_CLOSE);
    assertBytes(received, concat(serverFrame(OP.text, "fragment1fragment2"), SERVER_CLOSE));
    assert.deepEqual(entry.messages, ["fragment1fragment2"]);
  });

  test("binary in three fragments is delivered as one Uint8Array and echoed as binary", async () => {
    const { client, entry } = await open();
    const message = Uint8Array.from({ length: 600 }, (_, i) => (i * 31) & 0xff);
    const received = await exchange(
      client,
      concat(...fragments(OP.binary, message, [100, 400]), CLIENT_CLOSE),
    );
    assertBytes(received, concat(serverFrame(OP.binary, message), SERVER_CLOSE));
    assert.equal(entry.messages.length, 1);
    assert.ok(entry.messages[0] instanceof Uint8Array);
    assert.deepEqual(entry.messages[0], message);
  });

  test("a ping between two text fragments: the pong comes before the echo", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "fragment1", { fin: false }),
        clientFrame(OP.ping, "ping payload"),
        clientFrame(OP.cont, "fragment2"),
        CLIENT_CLOSE,
      ),
    );
    assertBytes(
      received,
      concat(
        serverFrame(OP.pong, "ping payload"),
        serverFrame(OP.text, "fragment1fragment2"),
        SERVER_CLOSE,
      ),
    );
    assert.deepEqual(entry.pings, [bytes("ping payload")]);
    assert.deepEqual(entry.messages, ["fragment1fragment2"]);
  });

  test("a ping between two text fragments, written one byte per write", async () => {
    const { client } = await open();
    await client.writeInPieces(
      concat(
        clientFrame(OP.text, "fragment1", { fin: false }),
        clientFrame(OP.ping, "ping payload"),
        clientFrame(OP.cont, "fragment2"),
      ),
      1,
    );
    const received = await exchange(client, CLIENT_CLOSE);
    assertBytes(
      received,
      concat(
        serverFrame(OP.pong, "ping payload"),
        serverFrame(OP.text, "fragment1fragment2"),
        SERVER_CLOSE,
      ),
    );
  });

  test("pings between five fragments are answered at once, before the message ends", async () => {
    const { client, entry } = await open();
    const parts = ["one ", "two ", "three ", "four ", "five"];
    for (let i = 0; i < parts.length; i++) {
      const first = i === 0;
      const last = i === parts.length - 1;
      client.write(clientFrame(first ? OP.text : OP.cont, parts[i], { fin: last }));
      if (last) break;
      client.write(clientFrame(OP.ping, `ping ${i}`));
      const pong = await client.nextFrame();
      assert.equal(pong.opcode, OP.pong);
      assert.deepEqual(pong.payload, bytes(`ping ${i}`));
      assert.deepEqual(entry.messages, [], "no message before the last fragment");
    }
    const echo = await client.nextFrame();
    assert.equal(echo.opcode, OP.text);
    assert.deepEqual(echo.payload, bytes(parts.join("")));
    assertBytes(await exchange(client, CLIENT_CLOSE), SERVER_CLOSE);
    assert.deepEqual(entry.messages, [parts.join("")]);
  });

  test("an unsolicited pong between binary fragments is ignored", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.binary, [1, 2, 3], { fin: false }),
        clientFrame(OP.pong, "pong"),
        clientFrame(OP.cont, [4, 5, 6]),
        CLIENT_CLOSE,
      ),
    );
    assertBytes(received, concat(serverFrame(OP.binary, [1, 2, 3, 4, 5, 6]), SERVER_CLOSE));
    assert.deepEqual(entry.pongs, [bytes("pong")]);
  });

  test("1000 text fragments of one byte each make one 1000-byte message", async () => {
    const { client, entry } = await open();
    const message = encoder.encode(
      Array.from({ length: 1000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(""),
    );
    const cuts = Array.from({ length: 999 }, (_, i) => i + 1);
    const frames = fragments(OP.text, message, cuts);
    assert.equal(frames.length, 1000);
    const received = await exchange(client, concat(...frames, CLIENT_CLOSE));
    assertBytes(received, concat(serverFrame(OP.text, message), SERVER_CLOSE));
    assert.deepEqual(entry.messages, [new TextDecoder().decode(message)]);
  });

  test("1000 binary fragments of one byte each, written 10 frames per write", async () => {
    const { client, entry } = await open();
    const message = Uint8Array.from({ length: 1000 }, (_, i) => (i * 13) & 0xff);
    const frames = fragments(OP.binary, message, Array.from({ length: 999 }, (_, i) => i + 1));
    for (let i = 0; i < frames.length; i += 10) {
      client.write(concat(...frames.slice(i, i + 10)));
      await sleep(0);
    }
    const received = await exchange(client, CLIENT_CLOSE);
    assertBytes(received, concat(serverFrame(OP.binary, message), SERVER_CLOSE));
    assert.deepEqual(entry.messages, [message]);
  });

  test("a UTF-8 character split across fragments is delivered whole", async () => {
    const { client, entry } = await open();
    const message = encoder.encode("κόσμε 😀 ok"); // 2-byte and 4-byte sequences
    // Cut inside "κ" (after its first byte) and inside the emoji (after 1 and 3 of its 4 bytes).
    const emoji = encoder.encode("κόσμε ").length;
    const frames = fragments(OP.text, message, [1, emoji + 1, emoji + 3]);
    const received = await exchange(client, concat(...frames, CLIENT_CLOSE));
    assertBytes(received, concat(serverFrame(OP.text, message), SERVER_CLOSE));
    assert.deepEqual(entry.messages, ["κόσμε 😀 ok"]);
  });

  test("fragments that are themselves split across writes (3-byte writes) assemble correctly", async () => {
    const { client, entry } = await open();
    const text = "κόσμε 😀 ".repeat(20);
    const message = encoder.encode(text);
    const frames = fragments(OP.text, message, [7, 50, 51, 133]);
    await client.writeInPieces(concat(...frames), 3, 0);
    const received = await exchange(client, CLIENT_CLOSE);
    assertBytes(received, concat(serverFrame(OP.text, message), SERVER_CLOSE));
    assert.deepEqual(entry.messages, [text]);
  });

  test("a large fragmented message (3 × 100 KB, frames spanning reads) is echoed whole", async () => {
    const { client, entry } = await open();
    const message = encoder.encode("edgews ".repeat(43_000)); // 301,000 bytes
    const frames = fragments(OP.text, message, [100_000, 200_000]);
    const received = await exchange(client, concat(...frames, CLIENT_CLOSE));
    assertBytes(received, concat(serverFrame(OP.text, message), SERVER_CLOSE));
    assert.equal(entry.messages.length, 1);
    assert.equal(entry.messages[0], "edgews ".repeat(43_000));
  });

  test("two fragmented messages in a row, text then binary, keep their types", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        ...fragments(OP.text, encoder.encode("first message"), [5]),
        ...fragments(OP.binary, Uint8Array.from([9, 8, 7, 6]), [2]),
        clientFrame(OP.text, "third"),
        CLIENT_CLOSE,
      ),
    );
    assertBytes(
      received,
      concat(
        serverFrame(OP.text, "first message"),
        serverFrame(OP.binary, [9, 8, 7, 6]),
        serverFrame(OP.text, "third"),
        SERVER_CLOSE,
      ),
    );
    assert.deepEqual(entry.messages, ["first message", Uint8Array.from([9, 8, 7, 6]), "third"]);
  });

  test("zero-length fragments make an empty text message", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "", { fin: false }),
        clientFrame(OP.cont, "", { fin: false }),
        clientFrame(OP.cont, ""),
        CLIENT_CLOSE,
      ),
    );
    assertBytes(received, concat(Uint8Array.from([0x81, 0x00]), SERVER_CLOSE));
    assert.deepEqual(entry.messages, [""]);
  });

  test("zero-length fragments make an empty binary message", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.binary, [], { fin: false }), clientFrame(OP.cont, []), CLIENT_CLOSE),
    );
    assertBytes(received, concat(Uint8Array.from([0x82, 0x00]), SERVER_CLOSE));
    assert.deepEqual(entry.messages, [new Uint8Array(0)]);
  });

  test("zero-length fragments between non-empty ones add nothing", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "", { fin: false }),
        clientFrame(OP.cont, "ab", { fin: false }),
        clientFrame(OP.cont, "", { fin: false }),
        clientFrame(OP.cont, "cd", { fin: false }),
        clientFrame(OP.cont, ""),
        CLIENT_CLOSE,
      ),
    );
    assertBytes(received, concat(serverFrame(OP.text, "abcd"), SERVER_CLOSE));
    assert.deepEqual(entry.messages, ["abcd"]);
  });

  test("a continuation with FIN set and nothing to continue fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(client, clientFrame(OP.cont, "non-continuation payload"));
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
    assert.equal((await closedWith(entry)).code, 1002);
  });

  test("a continuation with FIN clear and nothing to continue fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.cont, "cont", { fin: false }), clientFrame(OP.cont, "inuation")),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("a continuation with nothing to continue, written one byte per write, fails with 1002", async () => {
    const { client } = await open();
    await client.writeInPieces(clientFrame(OP.cont, "non-continuation payload"), 1);
    await client.waitForEnd();
    assertFailed(client.pending, new Uint8Array(0), 1002);
  });

  test("after a complete fragmented message, a stray continuation fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "fragment1", { fin: false }),
        clientFrame(OP.cont, "fragment2"),
        clientFrame(OP.cont, "fragment3", { fin: false }),
        clientFrame(OP.text, "never echoed"),
      ),
    );
    assertFailed(received, serverFrame(OP.text, "fragment1fragment2"), 1002);
    assert.deepEqual(entry.messages, ["fragment1fragment2"]);
  });

  test("after an unfragmented message, a continuation fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(clientFrame(OP.text, "whole"), clientFrame(OP.cont, "stray")),
    );
    assertFailed(received, serverFrame(OP.text, "whole"), 1002);
    assert.deepEqual(entry.messages, ["whole"]);
  });

  test("a text frame inside a fragmented text message fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "fragment1", { fin: false }),
        clientFrame(OP.text, "fragment2"),
      ),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("a binary frame inside a fragmented text message fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "fragment1", { fin: false }),
        clientFrame(OP.binary, [1, 2], { fin: false }),
        clientFrame(OP.cont, "fragment2"),
      ),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("a close frame between fragments closes cleanly; the partial message is dropped", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.text, "fragment1", { fin: false }),
        CLIENT_CLOSE,
        clientFrame(OP.cont, "fragment2"),
      ),
    );
    assertBytes(received, SERVER_CLOSE);
    assert.deepEqual(entry.messages, []);
    assert.deepEqual(await closedWith(entry), { code: 1000, reason: "" });
  });

  test("a close frame with a reason between fragments is echoed with its code", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      concat(
        clientFrame(OP.binary, [1, 2, 3], { fin: false }),
        clientFrame(OP.close, closePayload(3000, "bye")),
      ),
    );
    const { frames, used } = readFrames(received);
    assert.equal(used, received.length);
    assert.equal(frames.length, 1);
    assert.equal(frames[0].opcode, OP.close);
    assert.equal(closeCodeOf(frames[0]), 3000);
    assert.deepEqual(entry.messages, []);
    assert.deepEqual(await closedWith(entry), { code: 3000, reason: "bye" });
  });
});

describe("fragmentation limits", () => {
  let server: WebSocketServer;
  before(() => {
    server = startServer({ maxFragments: 4, maxPayload: 1000 });
  });
  after(() => server.stop());

  test("a message within the fragment limit is echoed", async () => {
    const client = await RawClient.open(server.port);
    const frames = fragments(OP.text, encoder.encode("abcd"), [1, 2, 3]);
    const received = await exchange(client, concat(...frames, CLIENT_CLOSE));
    assertBytes(received, concat(serverFrame(OP.text, "abcd"), SERVER_CLOSE));
  });

  test("one fragment more than maxFragments fails with 1009", async () => {
    const client = await RawClient.open(server.port);
    const frames = fragments(OP.text, encoder.encode("abcde"), [1, 2, 3, 4]);
    assertFailed(await exchange(client, concat(...frames)), new Uint8Array(0), 1009);
  });

  test("fragments summing past maxPayload fail with 1009, though each is small", async () => {
    const client = await RawClient.open(server.port);
    const frames = fragments(OP.binary, new Uint8Array(1001), [400, 800]);
    assertFailed(await exchange(client, concat(...frames)), new Uint8Array(0), 1009);
  });

  test("fragments summing to exactly maxPayload are echoed", async () => {
    const client = await RawClient.open(server.port);
    const message = new Uint8Array(1000).fill(0x5a);
    const frames = fragments(OP.binary, message, [400, 800]);
    const received = await exchange(client, concat(...frames, CLIENT_CLOSE));
    assertBytes(received, concat(serverFrame(OP.binary, message), SERVER_CLOSE));
  });
});

describe("fragmentation, pull-style API (no message callback)", () => {
  let server: WebSocketServer;
  before(() => {
    server = startServer({
      websocket: {
        async open(ws) {
          for await (const message of ws) ws.send(message);
        },
      },
    });
  });
  after(() => server.stop());

  test("a fragmented message with a ping inside is read whole from the iterator", async () => {
    const client = await RawClient.open(server.port);
    client.write(
      concat(
        clientFrame(OP.text, "frag", { fin: false }),
        clientFrame(OP.ping, "p"),
        clientFrame(OP.cont, "men", { fin: false }),
        clientFrame(OP.cont, "ted"),
        ...fragments(OP.binary, Uint8Array.from([1, 2, 3, 4, 5]), [1, 4]),
      ),
    );
    const frames = [await client.nextFrame(), await client.nextFrame(), await client.nextFrame()];
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, Array.from(f.payload)]),
      [
        [OP.pong, true, Array.from(bytes("p"))],
        [OP.text, true, Array.from(bytes("fragmented"))],
        [OP.binary, true, [1, 2, 3, 4, 5]],
      ],
    );
    assertBytes(await exchange(client, CLIENT_CLOSE), SERVER_CLOSE);
  });
});

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketServer } from "../../mod.ts";
import { concat } from "../helpers/bytes.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { startServer } from "../helpers/servers.ts";
import { clientFrame, closeCodeOf, OP, text } from "../helpers/wire.ts";

describe("framing", () => {
  let server: WebSocketServer;
  before(() => {
    server = startServer();
  });
  after(() => server.stop());

  test("echoes a text message with each length encoding", async () => {
    for (const length of [0, 1, 125, 126, 127, 65535, 65536, 100_000]) {
      const client = await RawClient.open(server.port);
      const payload = "x".repeat(length);
      client.write(clientFrame(OP.text, payload));
      const frame = await client.nextFrame();
      assert.equal(frame.opcode, OP.text);
      assert.equal(frame.fin, true);
      assert.equal(frame.masked, false, "server frames are never masked");
      assert.equal(frame.payload.length, length);
      assert.equal(text(frame.payload), payload);
      client.destroy();
    }
  });

  test("parses many frames from one write, and a frame split across many writes", async () => {
    const client = await RawClient.open(server.port);
    const frames = ["a", "bb", "ccc"].map((s) => clientFrame(OP.text, s));
    client.write(concat(...frames));
    for (const expected of ["a", "bb", "ccc"]) {
      assert.equal(text((await client.nextFrame()).payload), expected);
    }
    await client.writeInPieces(clientFrame(OP.binary, new Uint8Array(300).fill(7)), 1, 0);
    const echoed = await client.nextFrame();
    assert.equal(echoed.opcode, OP.binary);
    assert.deepEqual(echoed.payload, new Uint8Array(300).fill(7));
    client.destroy();
  });

  test("an unmasked client frame closes with 1002 and the server closes TCP", async () => {
    const client = await RawClient.open(server.port);
    client.write(clientFrame(OP.text, "hi", { mask: false }));
    const frames = await client.readUntilClose();
    assert.equal(frames.length, 1);
    assert.equal(frames[0].opcode, OP.close);
    assert.equal(closeCodeOf(frames[0]), 1002);
  });

  test("a 64-bit length with the top bit set closes with 1002", async () => {
    const client = await RawClient.open(server.port);
    client.write(Uint8Array.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]));
    const frames = await client.readUntilClose();
    assert.equal(closeCodeOf(frames[frames.length - 1]), 1002);
  });
});

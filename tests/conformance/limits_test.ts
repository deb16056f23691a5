/**
 * Message size and fragment-count limits (RFC 6455 §10.4; the ground of Autobahn section 9):
 * a message over `maxPayload` (summed across fragments) or with more than `maxFragments` frames
 * closes with 1009 as soon as a frame header shows it, before its payload is sent; the defaults
 * let the conformance suite's largest messages through.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketServer } from "../../mod.ts";
import { concat } from "../helpers/bytes.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { startServer } from "../helpers/servers.ts";
import { clientFrame, closeCodeOf, OP, type ServerFrame, text } from "../helpers/wire.ts";

const MAX_PAYLOAD = 1024;
const MAX_FRAGMENTS = 4;

/** Header length of a masked client frame with this payload length. */
function headerLength(payloadLength: number): number {
  return (payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10) + 4;
}

/** A payload whose every byte says where it is, so a reordered or lost byte shows. */
function pattern(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + (i >>> 8)) & 0xff;
  return out;
}

async function expectCloseOnly(client: RawClient, code: number): Promise<void> {
  const frames: ServerFrame[] = await client.readUntilClose();
  assert.deepEqual(frames.map((f) => f.opcode), [OP.close], "no message may be delivered");
  assert.equal(closeCodeOf(frames[0]), code);
  assert.equal(client.ended, true);
}

describe("limits: maxPayload 1024, maxFragments 4", () => {
  let server: WebSocketServer;
  before(() => {
    server = startServer({ maxPayload: MAX_PAYLOAD, maxFragments: MAX_FRAGMENTS });
  });
  after(() => server.stop());

  test("a message of exactly maxPayload in one frame is echoed (text and binary)", async () => {
    const client = await RawClient.open(server.port);
    const textPayload = "é".repeat(MAX_PAYLOAD / 2); // 1024 UTF-8 bytes
    client.write(clientFrame(OP.text, textPayload));
    const echoedText = await client.nextFrame();
    assert.equal(echoedText.opcode, OP.text);
    assert.equal(text(echoedText.payload), textPayload);
    const binary = pattern(MAX_PAYLOAD);
    client.write(clientFrame(OP.binary, binary));
    assert.deepEqual((await client.nextFrame()).payload, binary);
    client.destroy();
  });

  test("exactly maxPayload in exactly maxFragments fragments, with pings between, is echoed", async () => {
    const client = await RawClient.open(server.port);
    const payload = pattern(MAX_PAYLOAD);
    const quarter = MAX_PAYLOAD / 4;
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) {
      const part = payload.subarray(i * quarter, (i + 1) * quarter);
      frames.push(clientFrame(i === 0 ? OP.binary : OP.cont, part, { fin: i === 3 }));
      // Control frames in the middle of a message are not fragments of it.
      if (i < 3) frames.push(clientFrame(OP.ping, `p${i}`));
    }
    client.write(concat(...frames));
    for (let i = 0; i < 3; i++) {
      const pong = await client.nextFrame();
      assert.equal(pong.opcode, OP.pong);
      assert.equal(text(pong.payload), `p${i}`);
    }
    const echoed = await client.nextFrame();
    assert.equal(echoed.opcode, OP.binary);
    assert.deepEqual(echoed.payload, payload);
    client.destroy();
  });

  test("maxPayload + 1 in one frame closes with 1009 after only the frame header", async () => {
    for (const opcode of [OP.text, OP.binary]) {
      const client = await RawClient.open(server.port);
      const frame = clientFrame(opcode, new Uint8Array(MAX_PAYLOAD + 1));
      client.write(frame.subarray(0, headerLength(MAX_PAYLOAD + 1))); // the payload never follows
      await expectCloseOnly(client, 1009);
    }
  });

  test("a 64-bit length of 2^40 closes with 1009 after only the frame header", async () => {
    const client = await RawClient.open(server.port);
    // FIN + binary, masked, 127 → 64-bit length 0x0000010000000000, mask key.
    client.write(Uint8Array.from([0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4]));
    await expectCloseOnly(client, 1009);
  });

  test("fragments that each fit but sum past maxPayload close with 1009 at the overflowing header", async () => {
    const client = await RawClient.open(server.port);
    client.write(clientFrame(OP.text, "a".repeat(600), { fin: false }));
    const second = clientFrame(OP.cont, "b".repeat(425));
    client.write(second.subarray(0, headerLength(425))); // 600 + 425 = 1025: its payload never follows
    await expectCloseOnly(client, 1009);
  });

  test("fragments that sum to exactly maxPayload + 1 across three frames close with 1009", async () => {
    const client = await RawClient.open(server.port);
    client.write(clientFrame(OP.binary, new Uint8Array(500), { fin: false }));
    client.write(clientFrame(OP.cont, new Uint8Array(500), { fin: false }));
    client.write(clientFrame(OP.cont, new Uint8Array(25)));
    await expectCloseOnly(client, 1009);
  });

  test("more than maxFragments fragments close with 1009 at the extra fragment's header", async () => {
    const client = await RawClient.open(server.port);
    const frames: Uint8Array[] = [clientFrame(OP.text, "a", { fin: false })];
    for (let i = 1; i < MAX_FRAGMENTS; i++) frames.push(clientFrame(OP.cont, "a", { fin: false }));
    client.write(concat(...frames));
    const extra = clientFrame(OP.cont, "a");
    client.write(extra.subarray(0, headerLength(1))); // fragment 5's header, not its payload
    await expectCloseOnly(client, 1009);
  });

  test("empty fragments count too", async () => {
    const client = await RawClient.open(server.port);
    const frames: Uint8Array[] = [clientFrame(OP.binary, new Uint8Array(0), { fin: false })];
    for (let i = 1; i <= MAX_FRAGMENTS; i++) {
      frames.push(clientFrame(OP.cont, new Uint8Array(0), { fin: i === MAX_FRAGMENTS }));
    }
    client.write(concat(...frames));
    await expectCloseOnly(client, 1009);
  });

  test("the fragment count starts again with each message", async () => {
    const client = await RawClient.open(server.port);
    for (let round = 0; round < 3; round++) {
      const frames: Uint8Array[] = [clientFrame(OP.text, "x", { fin: false })];
      for (let i = 1; i < MAX_FRAGMENTS; i++) {
        frames.push(clientFrame(OP.cont, "y", { fin: i === MAX_FRAGMENTS - 1 }));
      }
      client.write(concat(...frames));
      assert.equal(text((await client.nextFrame()).payload), "xyyy");
    }
    client.destroy();
  });

  test("the server keeps serving after limit failures", async () => {
    const client = await RawClient.open(server.port);
    client.write(clientFrame(OP.text, "ok"));
    assert.equal(text((await client.nextFrame()).payload), "ok");
    client.destroy();
  });
});

describe("limits: the defaults pass the conformance suite's largest cases", () => {
  let server: WebSocketServer;
  before(() => {
    server = startServer();
  });
  after(() => server.stop());

  test("a 16 MiB binary message in one frame is echoed", async () => {
    const size = 16 * 1024 * 1024;
    const payload = pattern(size);
    const client = await RawClient.open(server.port);
    client.write(clientFrame(OP.binary, payload));
    const echoed = await client.nextFrame(60_000);
    assert.equal(echoed.opcode, OP.binary);
    assert.equal(echoed.payload.length, size);
    assert.deepEqual(echoed.payload, payload);
    client.destroy();
  });

  test("a 4 MiB text message in 65,536 fragments of 64 bytes is echoed", async () => {
    const size = 4 * 1024 * 1024;
    const fragment = 64;
    const count = size / fragment;
    assert.equal(count, 65_536);
    // Printable ASCII that varies with position.
    const payload = new Uint8Array(size);
    for (let i = 0; i < size; i++) payload[i] = 0x21 + ((i * 7 + (i >>> 6)) % 94);
    // Each masked frame is 2 + 4 + 64 bytes; build them all into one buffer.
    const frameSize = 2 + 4 + fragment;
    const wire = new Uint8Array(count * frameSize);
    const mask = [0x12, 0x34, 0x56, 0x78];
    for (let f = 0; f < count; f++) {
      const at = f * frameSize;
      wire[at] = (f === count - 1 ? 0x80 : 0) | (f === 0 ? OP.text : OP.cont);
      wire[at + 1] = 0x80 | fragment;
      wire.set(mask, at + 2);
      for (let i = 0; i < fragment; i++) {
        wire[at + 6 + i] = payload[f * fragment + i] ^ mask[i & 3];
      }
    }
    const client = await RawClient.open(server.port);
    client.write(wire);
    const echoed = await client.nextFrame(60_000);
    assert.equal(echoed.opcode, OP.text);
    assert.equal(echoed.fin, true);
    assert.equal(echoed.payload.length, size);
    assert.deepEqual(echoed.payload, payload);
    client.destroy();
  });
});

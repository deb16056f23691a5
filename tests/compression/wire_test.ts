/**
 * permessage-deflate on the wire, against our server with a raw socket: the RFC 7692 §7.2.3
 * examples byte for byte, RSV1 rules (1002), inflated limits (1009, with a deflate bomb and the
 * process's memory measured), UTF-8 of inflated text (1007), `compress: false`, and ordering of
 * uncompressed messages and the close frame behind compressed ones.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import type { WebSocketServer } from "../../mod.ts";
import { hex } from "../helpers/bytes.ts";
import type { RawClient } from "../helpers/raw_client.ts";
import { RUNTIME, startServer } from "../helpers/servers.ts";
import { bytes, clientFrame, closeCodeOf, closePayload, OP, text } from "../helpers/wire.ts";
import { deflate, expectClose, inflater, OFFER, open, RSV1 } from "./_deflate_wire.ts";

describe(`permessage-deflate on the wire (${RUNTIME})`, () => {
  let server: WebSocketServer;
  let plainServer: WebSocketServer;
  let noTakeover: WebSocketServer;
  let uncompressedSender: WebSocketServer;
  const clients: RawClient[] = [];
  const track = <T extends { client: RawClient }>(value: T) => (clients.push(value.client), value);

  before(() => {
    server = startServer({
      perMessageDeflate: { threshold: 0, level: 6 },
      maxPayload: 16 * 1024 * 1024,
      websocket: {
        message(ws, message) {
          if (message === "cmd:ordered") {
            ws.send("x".repeat(200_000)); // compressed, asynchronously
            ws.send("after", { compress: false }); // must not overtake it
            ws.close(4000, "bye"); // nor may the close frame
          } else if (message === "cmd:raw") ws.send("y".repeat(5000), { compress: false });
          else ws.send(message);
        },
      },
    });
    plainServer = startServer({});
    noTakeover = startServer({
      perMessageDeflate: { threshold: 0, level: 6, serverNoContextTakeover: true },
    });
    uncompressedSender = startServer({ perMessageDeflate: { threshold: 1 << 30 } });
  });
  after(async () => {
    for (const client of clients) client.destroy();
    await Promise.all([server, plainServer, noTakeover, uncompressedSender].map((s) => s.stop()));
  });

  test("negotiation: the response header, and none without an offer or with compression off", async () => {
    assert.equal(track(await open(server)).extensions, "permessage-deflate");
    assert.equal(track(await open(server, {})).extensions, null);
    assert.equal(track(await open(plainServer)).extensions, null);
    const bad = track(await open(server, { "Sec-WebSocket-Extensions": "permessage-deflate;;" }));
    assert.equal(bad.extensions, null); // a malformed header does not break the handshake
  });

  test('RFC 7692 §7.2.3.1/.2: "Hello" is f2 48 cd c9 c9 07 00, then f2 00 11 00 00 with context takeover', async () => {
    const { client } = track(await open(server));
    client.write(clientFrame(OP.text, "hex:f2 48 cd c9 c9 07 00", { rsv: RSV1 }));
    const first = await client.nextFrame();
    assert.deepEqual([first.rsv, first.opcode, first.fin], [RSV1, OP.text, true]);
    assert.equal(hex(first.payload, " "), "f2 48 cd c9 c9 07 00");
    // The client's second "Hello", compressed with its context: shorter.
    client.write(clientFrame(OP.text, "hex:f2 00 11 00 00", { rsv: RSV1 }));
    const second = await client.nextFrame();
    assert.equal(second.rsv, RSV1);
    assert.equal(hex(second.payload, " "), "f2 00 11 00 00");
  });

  test("without context takeover the server's second Hello is the same as the first", async () => {
    const { client, extensions } = track(await open(noTakeover));
    assert.equal(extensions, "permessage-deflate; server_no_context_takeover");
    for (let i = 0; i < 2; i++) {
      client.write(clientFrame(OP.text, "hex:f2 48 cd c9 c9 07 00", { rsv: RSV1 }));
      const frame = await client.nextFrame();
      assert.equal(hex(frame.payload, " "), "f2 48 cd c9 c9 07 00");
    }
  });

  test("§7.2.3.1: a compressed message split over fragments (RSV1 on the first only)", async () => {
    const { client } = track(await open(server));
    client.write(clientFrame(OP.text, "hex:f2 48 cd", { rsv: RSV1, fin: false }));
    client.write(clientFrame(OP.cont, "hex:c9 c9 07 00"));
    assert.equal(hex((await client.nextFrame()).payload, " "), "f2 48 cd c9 c9 07 00");
  });

  test("§7.2.3.3: a no-compression block, and §7.2.3.6: an empty message", async () => {
    const { client } = track(await open(uncompressedSender));
    client.write(clientFrame(OP.text, "hex:00 05 00 fa ff 48 65 6c 6c 6f 00", { rsv: RSV1 }));
    const frame = await client.nextFrame();
    assert.deepEqual([frame.rsv, text(frame.payload)], [0, "Hello"]); // below the threshold
    client.write(clientFrame(OP.binary, "hex:00", { rsv: RSV1 }));
    const empty = await client.nextFrame();
    assert.deepEqual([empty.opcode, empty.payload.length], [OP.binary, 0]);
  });

  test("an uncompressed message on a compressed connection, and compress: false", async () => {
    const { client } = track(await open(server));
    client.write(clientFrame(OP.text, "plain"));
    const echoed = await client.nextFrame();
    assert.equal(echoed.rsv, RSV1); // threshold 0: the echo is compressed
    client.write(clientFrame(OP.text, "cmd:raw"));
    const raw = await client.nextFrame();
    assert.deepEqual([raw.rsv, raw.payload.length], [0, 5000]);
  });

  test("order: an uncompressed message and the close frame wait behind a compression", async () => {
    const { client } = track(await open(server));
    client.write(clientFrame(OP.text, "cmd:ordered"));
    const frames = [await client.nextFrame(), await client.nextFrame(), await client.nextFrame()];
    assert.deepEqual(frames.map((f) => [f.opcode, f.rsv]), [[OP.text, RSV1], [OP.text, 0], [
      OP.close,
      0,
    ]]);
    assert.equal((await inflater()(frames[0].payload)).length, 200_000);
    assert.equal(text(frames[1].payload), "after");
    assert.equal(closeCodeOf(frames[2]), 4000);
  });

  test("order: a message after a compressed one is delivered after it", async () => {
    const { client } = track(await open(server));
    const big = await deflate([bytes("z".repeat(300_000))]);
    client.write(
      new Uint8Array([
        ...clientFrame(OP.text, big, { rsv: RSV1 }),
        ...clientFrame(OP.text, "second"),
        ...clientFrame(OP.close, closePayload(1000)),
      ]),
    );
    const frames = await client.readUntilClose(10_000);
    assert.equal(frames.length, 3);
    const inflate = inflater();
    assert.equal((await inflate(frames[0].payload)).length, 300_000);
    assert.equal(text(await inflate(frames[1].payload)), "second");
    assert.equal(closeCodeOf(frames[2]), 1000);
  });

  const protocolErrors: Array<[string, Record<string, string>, Uint8Array[]]> = [
    ["RSV1 on a ping", OFFER, [clientFrame(OP.ping, "hex:00", { rsv: RSV1 })]],
    ["RSV1 on a close", OFFER, [clientFrame(OP.close, "hex:00", { rsv: RSV1 })]],
    ["RSV1 on a continuation", OFFER, [
      clientFrame(OP.text, "hex:f2 48 cd", { rsv: RSV1, fin: false }),
      clientFrame(OP.cont, "hex:c9 c9 07 00", { rsv: RSV1 }),
    ]],
    ["RSV1 without the extension negotiated", {}, [
      clientFrame(OP.text, "hex:f2 48 cd c9 c9 07 00", {
        rsv: RSV1,
      }),
    ]],
    ["RSV2 with the extension", OFFER, [clientFrame(OP.text, "a", { rsv: 2 })]],
    ["RSV1+RSV3 with the extension", OFFER, [clientFrame(OP.text, "a", { rsv: 5 })]],
  ];
  for (const [name, headers, frames] of protocolErrors) {
    test(`1002: ${name}`, async () => {
      const { client } = track(await open(server, headers));
      for (const frame of frames) client.write(frame);
      await expectClose(client, 1002);
    });
  }

  test("1007: inflated text that is not UTF-8, and corrupt compressed data", async () => {
    const bad = track(await open(server));
    bad.client.write(
      clientFrame(OP.text, await deflate([bytes("ok "), bytes([0xc0, 0xaf])]), { rsv: RSV1 }),
    );
    await expectClose(bad.client, 1007);
    const corrupt = track(await open(server));
    corrupt.client.write(clientFrame(OP.binary, "hex:ff ff ff ff ff", { rsv: RSV1 }));
    await expectClose(corrupt.client, 1007);
  });

  test("1009: a deflate bomb (1 GiB of zeros) is refused while inflating, memory bounded", async () => {
    const zeros = new Uint8Array(1024 * 1024);
    const bomb = await deflate((function* () {
      for (let i = 0; i < 1024; i++) yield zeros;
    })());
    const bombed = startServer({ perMessageDeflate: true, maxPayload: 16 * 1024 * 1024 });
    try {
      const { client } = track(await open(bombed));
      // Warm up (a compressed message through the same path), then measure.
      client.write(clientFrame(OP.binary, await deflate([zeros]), { rsv: RSV1 }));
      await client.nextFrame(10_000);
      (globalThis as { gc?: () => void }).gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => peak = Math.max(peak, process.memoryUsage().rss), 5);
      const started = performance.now();
      // Sent as 64 fragments, so the bomb also arrives while inflating.
      const part = Math.ceil(bomb.length / 64);
      for (let i = 0; i < 64; i++) {
        const slice = bomb.subarray(i * part, (i + 1) * part);
        client.write(clientFrame(i === 0 ? OP.binary : OP.cont, slice, {
          rsv: i === 0 ? RSV1 : 0,
          fin: i === 63,
        }));
      }
      await expectClose(client, 1009);
      clearInterval(sampler);
      const after = process.memoryUsage().rss;
      peak = Math.max(peak, after);
      const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
      console.log(
        `bomb (${RUNTIME}): ${bomb.length} compressed bytes → 1024 MiB; maxPayload 16 MiB; ` +
          `RSS before ${mib(before)} MiB, peak ${mib(peak)} MiB (+${mib(peak - before)}), ` +
          `after ${mib(after)} MiB; refused in ${(performance.now() - started).toFixed(0)} ms`,
      );
      // 1 GiB would be inflated without the limit; allow the 16 MiB limit several times over.
      assert.ok(peak - before < 160 * 1024 * 1024, `RSS grew by ${mib(peak - before)} MiB`);
    } finally {
      await bombed.stop();
    }
  });

  test("1009 for an inflated message over maxPayload, by one byte", async () => {
    const small = startServer({ perMessageDeflate: true, maxPayload: 1000 });
    try {
      const ok = track(await open(small));
      ok.client.write(clientFrame(OP.binary, await deflate([new Uint8Array(1000)]), { rsv: RSV1 }));
      assert.equal((await ok.client.nextFrame()).opcode, OP.binary);
      const over = track(await open(small));
      over.client.write(
        clientFrame(OP.binary, await deflate([new Uint8Array(1001)]), { rsv: RSV1 }),
      );
      await expectClose(over.client, 1009);
    } finally {
      await small.stop();
    }
  });
});

/**
 * permessage-deflate where a side starts every message afresh: such messages up to 64 KiB are
 * (de)compressed with a one-shot zlib call instead of the stream. Checked on the wire, with a raw
 * client that offers no context takeover both ways: each reply inflates on its own (no context
 * kept), the limits and errors are the stream's (1009 by one byte, 1007), a message that inflates
 * past the one-shot limit still arrives whole (or is refused over maxPayload), and nothing
 * overtakes a message still in the stream.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as zlib from "node:zlib";
import type { WebSocketServer } from "../../mod.ts";
import { concat } from "../helpers/bytes.ts";
import { randomBytes } from "../helpers/random.ts";
import type { RawClient } from "../helpers/raw_client.ts";
import { RUNTIME, startServer } from "../helpers/servers.ts";
import { bytes, clientFrame, OP } from "../helpers/wire.ts";
import { deflate, expectClose, open, RSV1 } from "./_deflate_wire.ts";

const AFRESH = {
  "Sec-WebSocket-Extensions":
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
};

/** A server reply inflated on its own, with a fresh context: it must need no earlier message. */
function inflateAlone(payload: Uint8Array): Uint8Array {
  return zlib.inflateRawSync(new Uint8Array([...payload, 0, 0, 0xff, 0xff]), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
}

/** Text that compresses well but not trivially: numbered JSON-ish records. */
function records(count: number): string {
  let out = "";
  for (let i = 0; i < count; i++) out += `{"id":${i},"user":"u${i % 97}","text":"hello ${i * 7}"}`;
  return out;
}

describe(`permessage-deflate, one-shot path (${RUNTIME})`, () => {
  let echo: WebSocketServer;
  let small: WebSocketServer;
  const clients: RawClient[] = [];
  const track = <T extends { client: RawClient }>(value: T) => (clients.push(value.client), value);

  before(() => {
    echo = startServer({
      perMessageDeflate: { threshold: 0 },
      maxPayload: 4 * 1024 * 1024,
      websocket: {
        message(ws, message) {
          ws.send(message);
        },
      },
    });
    small = startServer({ perMessageDeflate: true, maxPayload: 1000 });
  });
  after(async () => {
    for (const client of clients) client.destroy();
    await Promise.all([echo, small].map((s) => s.stop()));
  });

  test("every reply inflates on its own, and round trips exactly", async () => {
    const { client, extensions } = track(await open(echo, AFRESH));
    assert.equal(
      extensions,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      const message = records(20 + i); // similar messages: a kept context would show
      sent.push(message);
      client.write(clientFrame(OP.text, await deflate([bytes(message)]), { rsv: RSV1 }));
    }
    for (const message of sent) {
      const frame = await client.nextFrame();
      assert.deepEqual([frame.rsv, frame.opcode, frame.fin], [RSV1, OP.text, true]);
      assert.equal(new TextDecoder().decode(inflateAlone(frame.payload)), message);
    }
  });

  test("1009 for an inflated message over maxPayload, by one byte; 1000 bytes pass", async () => {
    const ok = track(await open(small, AFRESH));
    ok.client.write(clientFrame(OP.binary, await deflate([new Uint8Array(1000)]), { rsv: RSV1 }));
    assert.equal((await ok.client.nextFrame()).opcode, OP.binary);
    const over = track(await open(small, AFRESH));
    over.client.write(clientFrame(OP.binary, await deflate([new Uint8Array(1001)]), { rsv: RSV1 }));
    await expectClose(over.client, 1009);
  });

  test("1007 for inflated text that is not UTF-8, and for corrupt compressed data", async () => {
    const bad = track(await open(echo, AFRESH));
    bad.client.write(
      clientFrame(OP.text, await deflate([bytes("ok "), bytes([0xc0, 0xaf])]), { rsv: RSV1 }),
    );
    await expectClose(bad.client, 1007);
    const corrupt = track(await open(echo, AFRESH));
    corrupt.client.write(clientFrame(OP.binary, "hex:ff ff ff ff ff", { rsv: RSV1 }));
    await expectClose(corrupt.client, 1007);
  });

  test("past the one-shot output limit (1 MiB): 2 MiB arrive whole, or 1009 over maxPayload", async () => {
    const big = new Uint8Array(2 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 7; // compresses to a few KiB
    const compressed = await deflate([big]);
    assert.ok(compressed.length < 64 * 1024, "small enough for the one-shot path");
    const { client } = track(await open(echo, AFRESH));
    client.write(clientFrame(OP.binary, compressed, { rsv: RSV1 }));
    const frame = await client.nextFrame(20_000);
    assert.equal(frame.rsv, RSV1);
    assert.deepEqual(new Uint8Array(inflateAlone(frame.payload)), big);

    const limited = startServer({ perMessageDeflate: true, maxPayload: 1536 * 1024 });
    try {
      const over = track(await open(limited, AFRESH));
      over.client.write(clientFrame(OP.binary, compressed, { rsv: RSV1 }));
      await expectClose(over.client, 1009);
    } finally {
      await limited.stop();
    }
  });

  test("order: small messages wait behind one still being inflated by the stream", async () => {
    const { client } = track(await open(echo, AFRESH));
    // 96 KiB that hardly compress: over 64 KiB compressed, so inflated through the stream.
    const noise = randomBytes(96 * 1024, 1);
    const compressed = await deflate([noise]);
    assert.ok(compressed.length > 64 * 1024, "too large for the one-shot path");
    const frames = [clientFrame(OP.binary, compressed, { rsv: RSV1 })];
    for (let i = 0; i < 3; i++) {
      frames.push(clientFrame(OP.binary, await deflate([bytes(`small ${i}`)]), { rsv: RSV1 }));
    }
    client.write(concat(...frames)); // together: the small ones arrive while the first inflates
    const sizes: number[] = [];
    for (let i = 0; i < 4; i++) {
      sizes.push(inflateAlone((await client.nextFrame(20_000)).payload).length);
    }
    assert.deepEqual(sizes, [noise.length, 7, 7, 7]);
  });

  test("order: small messages wait behind one being compressed by the stream", async () => {
    const { client } = track(await open(echo, AFRESH));
    const large = records(6000); // about 300 KB: over 64 KiB, so through the stream both ways
    client.write(clientFrame(OP.text, await deflate([bytes(large)]), { rsv: RSV1 }));
    for (let i = 0; i < 3; i++) {
      client.write(clientFrame(OP.text, await deflate([bytes(`small ${i}`)]), { rsv: RSV1 }));
    }
    const texts: string[] = [];
    for (let i = 0; i < 4; i++) {
      texts.push(new TextDecoder().decode(inflateAlone((await client.nextFrame(20_000)).payload)));
    }
    assert.deepEqual(texts, [large, "small 0", "small 1", "small 2"]);
  });
});

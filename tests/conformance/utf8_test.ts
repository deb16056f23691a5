/**
 * UTF-8 handling of text messages (RFC 6455 §5.6, §8.1; the ground of Autobahn section 6):
 * valid text is delivered whole and unchanged however it is fragmented, invalid text fails the
 * connection with 1007, and it fails as soon as the bad byte arrives, not at the end of the
 * message.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketServer } from "../../mod.ts";
import { concat } from "../helpers/bytes.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { startServer } from "../helpers/servers.ts";
import { bytes, clientFrame, closeCodeOf, OP, type ServerFrame } from "../helpers/wire.ts";

/** Valid UTF-8, hand-encoded so the test does not lean on the runtime's encoder. */
const VALID: Record<string, Uint8Array> = {
  "empty": bytes([]),
  "ASCII": bytes("Hello, world"),
  "2-byte (κόσμε)": bytes("hex:ce ba e1 bd b9 cf 83 ce bc ce b5"),
  "3-byte (€ and U+0800)": bytes("hex:e2 82 ac e0 a0 80"),
  "4-byte (U+1D11E, U+10000)": bytes("hex:f0 9d 84 9e f0 90 80 80"),
  "U+10FFFF (largest code point)": bytes("hex:f4 8f bf bf"),
  "U+FFFF and U+FFFE (noncharacters are valid)": bytes("hex:ef bf bf ef bf be"),
  "U+D7FF and U+E000 (around the surrogates)": bytes("hex:ed 9f bf ee 80 80"),
  "U+FEFF (a BOM is kept)": bytes("hex:ef bb bf 61"),
  "NUL": bytes([0x61, 0x00, 0x62]),
};

/** Invalid UTF-8, each with what is wrong with it. */
const INVALID: Record<string, Uint8Array> = {
  "lone continuation byte": bytes("hex:61 80 62"),
  "0xFE": bytes("hex:fe"),
  "0xFF": bytes("hex:61 ff"),
  "overlong 2-byte NUL (C0 80)": bytes("hex:c0 80"),
  "overlong 3-byte (E0 80 AF)": bytes("hex:e0 80 af"),
  "overlong 4-byte (F0 8F BF BF)": bytes("hex:f0 8f bf bf"),
  "above U+10FFFF (F4 90 80 80)": bytes("hex:f4 90 80 80"),
  "5-byte form (F8 88 80 80 80)": bytes("hex:f8 88 80 80 80"),
  "high surrogate U+D800 (ED A0 80)": bytes("hex:ed a0 80"),
  "low surrogate U+DFFF (ED BF BF)": bytes("hex:ed bf bf"),
  "surrogate pair encoded as CESU-8": bytes("hex:ed a0 80 ed b0 80"),
  "truncated 2-byte at the end": bytes("hex:ce ba ce"),
  "truncated 4-byte at the end": bytes("hex:f0 9d 84"),
  "lead byte followed by ASCII": bytes("hex:e2 82 41"),
  "κόσμε then a surrogate then more text": bytes(
    "hex:ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64",
  ),
};

/** Expects exactly one frame, a close with `code`, and then the end of TCP. */
async function expectCloseOnly(client: RawClient, code: number): Promise<void> {
  const frames: ServerFrame[] = await client.readUntilClose();
  assert.deepEqual(frames.map((f) => f.opcode), [OP.close], "no message may be delivered");
  assert.equal(closeCodeOf(frames[0]), code);
  assert.equal(client.ended, true);
}

describe("UTF-8", () => {
  let server: WebSocketServer;
  before(() => {
    server = startServer();
  });
  after(() => server.stop());

  test("valid text in one frame is echoed byte for byte", async () => {
    const client = await RawClient.open(server.port);
    for (const [name, payload] of Object.entries(VALID)) {
      client.write(clientFrame(OP.text, payload));
      const frame = await client.nextFrame();
      assert.equal(frame.opcode, OP.text, name);
      assert.deepEqual(frame.payload, payload, name);
    }
    client.destroy();
  });

  test("valid text split into 1-byte fragments (code points split across frames) is echoed whole", async () => {
    const client = await RawClient.open(server.port);
    for (const [name, payload] of Object.entries(VALID)) {
      if (payload.length < 2) continue;
      const frames: Uint8Array[] = [];
      for (let i = 0; i < payload.length; i++) {
        const opcode = i === 0 ? OP.text : OP.cont;
        frames.push(
          clientFrame(opcode, payload.subarray(i, i + 1), { fin: i === payload.length - 1 }),
        );
      }
      client.write(concat(...frames));
      const frame = await client.nextFrame();
      assert.equal(frame.opcode, OP.text, name);
      assert.equal(frame.fin, true, name);
      assert.deepEqual(frame.payload, payload, name);
    }
    client.destroy();
  });

  test("a 4-byte code point split 1|3, 2|2 and 3|1 across fragments, sent in separate writes", async () => {
    const clef = bytes("hex:f0 9d 84 9e"); // U+1D11E
    const top = bytes("hex:f4 8f bf bf"); // U+10FFFF
    const client = await RawClient.open(server.port);
    for (const cp of [clef, top]) {
      for (const cut of [1, 2, 3]) {
        client.write(clientFrame(OP.text, concat(bytes("a"), cp.subarray(0, cut)), { fin: false }));
        await new Promise((r) => setTimeout(r, 5));
        client.write(clientFrame(OP.cont, concat(cp.subarray(cut), bytes("z"))));
        const frame = await client.nextFrame();
        assert.deepEqual(frame.payload, concat(bytes("a"), cp, bytes("z")), `cut at ${cut}`);
      }
    }
    client.destroy();
  });

  test("a long valid text frame delivered in 7-byte pieces is echoed", async () => {
    const client = await RawClient.open(server.port);
    const payload = bytes("κόσμε€𝄞\u{10FFFF}\uFFFF".repeat(20));
    await client.writeInPieces(clientFrame(OP.text, payload), 7, 0);
    const frame = await client.nextFrame();
    assert.deepEqual(frame.payload, payload);
    client.destroy();
  });

  for (const [name, payload] of Object.entries(INVALID)) {
    test(`invalid text in one frame closes with 1007: ${name}`, async () => {
      const client = await RawClient.open(server.port);
      client.write(clientFrame(OP.text, payload));
      await expectCloseOnly(client, 1007);
    });
  }

  test("invalid text spread over 1-byte fragments closes with 1007", async () => {
    for (const [name, payload] of Object.entries(INVALID)) {
      if (payload.length < 2) continue;
      const client = await RawClient.open(server.port);
      const frames: Uint8Array[] = [];
      for (let i = 0; i < payload.length; i++) {
        const opcode = i === 0 ? OP.text : OP.cont;
        frames.push(
          clientFrame(opcode, payload.subarray(i, i + 1), { fin: i === payload.length - 1 }),
        );
      }
      client.write(concat(...frames));
      const received = await client.readUntilClose();
      assert.deepEqual(received.map((f) => f.opcode), [OP.close], name);
      assert.equal(closeCodeOf(received[0]), 1007, name);
    }
  });

  test("a message that ends in the middle of a code point closes with 1007 at its last (empty) fragment", async () => {
    const client = await RawClient.open(server.port);
    client.write(clientFrame(OP.text, bytes("hex:61 ce"), { fin: false }));
    client.write(clientFrame(OP.cont, new Uint8Array(0)));
    await expectCloseOnly(client, 1007);
  });

  test("fail fast: a first fragment holding an invalid byte closes with 1007 without the rest", async () => {
    for (
      const first of [
        bytes("hex:ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90 80 80"), // above U+10FFFF
        bytes("hex:ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80"), // surrogate
        bytes("hex:61 62 63 ff"),
        bytes("hex:c0"), // can never start a valid sequence
      ]
    ) {
      const client = await RawClient.open(server.port);
      // FIN clear: the message is not over, and the rest is never sent.
      client.write(clientFrame(OP.text, first, { fin: false }));
      await expectCloseOnly(client, 1007);
    }
  });

  test("fail fast: an invalid continuation fragment closes with 1007 before the final one", async () => {
    const client = await RawClient.open(server.port);
    client.write(clientFrame(OP.text, "κόσμε", { fin: false }));
    client.write(clientFrame(OP.cont, bytes("hex:65 64 ed a0 80 69"), { fin: false }));
    await expectCloseOnly(client, 1007);
  });

  test("fail fast: one text frame whose early piece holds an invalid byte closes before the rest", async () => {
    // A 4000-byte text frame: only its header and the first 20 payload bytes (with a bad byte at
    // offset 12) are ever sent.
    const payload = new Uint8Array(4000).fill(0x61);
    payload.set(bytes("hex:ce ba e1 bd b9"), 0);
    payload[12] = 0xff;
    const frame = clientFrame(OP.text, payload);
    const headerLength = 2 + 2 + 4; // 16-bit length, mask key
    const client = await RawClient.open(server.port);
    await client.writeInPieces(frame.subarray(0, headerLength + 20), 5);
    await expectCloseOnly(client, 1007);
  });

  test("fail fast: a bad byte in the first piece of a 1 MiB text frame", async () => {
    const payload = new Uint8Array(1024 * 1024).fill(0x62);
    payload[3] = 0xed;
    payload[4] = 0xbf; // U+DFxx: a surrogate
    payload[5] = 0x80;
    const frame = clientFrame(OP.text, payload);
    const client = await RawClient.open(server.port);
    client.write(frame.subarray(0, 2 + 8 + 4 + 16));
    await expectCloseOnly(client, 1007);
  });

  test("binary messages are not checked for UTF-8", async () => {
    const client = await RawClient.open(server.port);
    const payload = bytes("hex:ff fe ed a0 80 c0 80");
    client.write(clientFrame(OP.binary, payload));
    const frame = await client.nextFrame();
    assert.equal(frame.opcode, OP.binary);
    assert.deepEqual(frame.payload, payload);
    client.destroy();
  });

  test("the server keeps serving after UTF-8 failures", async () => {
    const client = await RawClient.open(server.port);
    client.write(clientFrame(OP.text, "still here"));
    assert.deepEqual((await client.nextFrame()).payload, bytes("still here"));
    client.destroy();
  });
});

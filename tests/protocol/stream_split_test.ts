import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameParser, type FrameSink } from "../../src/protocol/frame_parser.ts";
import { bytes, clientFrame, closePayload, OP } from "../helpers/wire.ts";
import { concat, hex } from "../helpers/bytes.ts";
import { randomBytes, seeded } from "../helpers/random.ts";
import { type Event, record } from "./_receiver.ts";

/**
 * A mixed stream: text (with multi-byte characters), binary with a 16-bit length, a fragmented
 * text message with a ping between fragments and a character split across fragments, an empty
 * binary message, a pong, a fragmented binary message, then a close frame.
 */
function mixedStream(masked: boolean): { stream: Uint8Array; expected: Event[] } {
  const m = { mask: masked ? undefined : false } as const;
  const binary = randomBytes(300, 1);
  const parts = [
    clientFrame(OP.text, "héllo €𝄞", m),
    clientFrame(OP.binary, binary, m),
    // "ab€cd" with the euro sign (e2 82 ac) split between the first two fragments.
    clientFrame(OP.text, "hex:61 62 e2", { ...m, fin: false }),
    clientFrame(OP.ping, "are you there", m),
    clientFrame(OP.cont, "hex:82 ac 63", { ...m, fin: false }),
    clientFrame(OP.cont, "d", m),
    clientFrame(OP.binary, new Uint8Array(0), m),
    clientFrame(OP.pong, new Uint8Array(0), m),
    clientFrame(OP.binary, [1, 2, 3], { ...m, fin: false }),
    clientFrame(OP.cont, new Uint8Array(0), { ...m, fin: false }),
    clientFrame(OP.cont, [4, 5], m),
    clientFrame(OP.text, "", m),
    clientFrame(OP.close, closePayload(1000, "bye ✓"), m),
  ];
  const expected: Event[] = [
    ["text", "héllo €𝄞"],
    ["binary", hex(binary)],
    ["ping", hex(bytes("are you there"))],
    ["text", "ab€cd"],
    ["binary", ""],
    ["pong", ""],
    ["binary", "0102030405"],
    ["text", ""],
    ["close", 1000, "bye ✓"],
  ];
  return { stream: concat(...parts), expected };
}

function feed(stream: Uint8Array, cuts: number[], masked: boolean): Event[] {
  const { receiver, events } = record({ expectMasked: masked });
  let at = 0;
  for (const cut of [...cuts, stream.length]) {
    receiver.push(stream.subarray(at, cut));
    at = cut;
  }
  assert.equal(receiver.stopped, true, "the close frame stops the receiver");
  return events;
}

/** Random cut points in (0, length), sizes 1..maxPiece. */
function randomCuts(length: number, seed: number, maxPiece: number): number[] {
  const next = seeded(seed);
  const cuts: number[] = [];
  let at = 0;
  while (true) {
    at += 1 + Math.floor(next() * maxPiece);
    if (at >= length) return cuts;
    cuts.push(at);
  }
}

for (const masked of [true, false]) {
  describe(`Receiver over a mixed stream (${masked ? "server role, masked" : "client role"})`, () => {
    const { stream, expected } = mixedStream(masked);

    test("in one push", () => {
      assert.deepEqual(feed(stream, [], masked), expected);
    });

    test("split in two at every offset", () => {
      for (let cut = 0; cut <= stream.length; cut++) {
        assert.deepEqual(feed(stream, [cut], masked), expected, `split at ${cut}`);
      }
    });

    test("one byte at a time", () => {
      const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
      assert.deepEqual(feed(stream, cuts, masked), expected);
    });

    test("in random-sized pieces from fixed seeds", () => {
      for (let seed = 1; seed <= 50; seed++) {
        const cuts = randomCuts(stream.length, seed, 1 + (seed % 40));
        assert.deepEqual(feed(stream, cuts, masked), expected, `seed ${seed}`);
      }
    });

    test("three pieces at every pair of offsets around the fragmented message", () => {
      // Every (a, b) pair over a window covering the fragments, ping and header boundaries.
      const start = 0;
      const end = Math.min(stream.length, 80);
      for (let a = start; a <= end; a++) {
        for (let b = a; b <= end; b += 3) {
          assert.deepEqual(feed(stream, [a, b], masked), expected, `cuts ${a}, ${b}`);
        }
      }
    });
  });
}

describe("Receiver with large frames in random pieces", () => {
  test("a 64-bit-length binary frame and a 16-bit fragmented text message survive any split", () => {
    const big = randomBytes(70_000 + 3, 7);
    const textA = "Ω".repeat(20_000); // 40,000 bytes
    const textB = "z𝄞".repeat(10_000); // 50,000 bytes
    const stream = concat(
      clientFrame(OP.binary, big),
      clientFrame(OP.text, textA, { fin: false }),
      clientFrame(OP.ping, "p"),
      clientFrame(OP.cont, textB),
      clientFrame(OP.close, closePayload(4001)),
    );
    const expected: Event[] = [
      ["binary", hex(big)],
      ["ping", "70"],
      ["text", textA + textB],
      ["close", 4001, ""],
    ];
    for (const [seed, maxPiece] of [[1, 7], [2, 100], [3, 5000], [4, 70_000], [5, 1]]) {
      const cuts = randomCuts(stream.length, seed, maxPiece);
      assert.deepEqual(feed(stream, cuts, true), expected, `seed ${seed}`);
    }
  });
});

/** A sink that records what FrameParser reports, joining payload parts. */
function frameLog(chunks: Uint8Array[]): string[] {
  const log: string[] = [];
  const sink: FrameSink = {
    onFrameHeader(fin, rsv, opcode, masked, length) {
      log.push(`header fin=${fin} rsv=${rsv} op=${opcode} masked=${masked} len=${length}`);
      return true;
    },
    onFramePart(payload, received) {
      assert.ok(received > 0 && received <= payload.length);
      return true;
    },
    onFrame(payload) {
      log.push(`frame ${hex(payload)}`);
      return true;
    },
    onMalformedHeader(reason) {
      log.push(`malformed ${reason}`);
    },
  };
  const parser = new FrameParser(sink);
  for (const chunk of chunks) parser.push(chunk);
  return log;
}

describe("FrameParser over a stream split at every offset", () => {
  test("headers and payloads are identical at every split and byte by byte", () => {
    const stream = concat(
      clientFrame(OP.text, "abc"),
      clientFrame(OP.binary, randomBytes(126, 3), { rsv: 5 }),
      clientFrame(OP.cont, randomBytes(5, 4), { fin: false, mask: false }),
      clientFrame(OP.binary, randomBytes(10, 5), { lengthBits: 64 }),
      clientFrame(OP.ping, new Uint8Array(0)),
      clientFrame(0xb, [9], { mask: false, lengthBits: 16 }),
    );
    const expected = frameLog([stream]);
    assert.deepEqual(expected, [
      "header fin=true rsv=0 op=1 masked=true len=3",
      "frame 616263",
      "header fin=true rsv=5 op=2 masked=true len=126",
      `frame ${hex(randomBytes(126, 3))}`,
      "header fin=false rsv=0 op=0 masked=false len=5",
      `frame ${hex(randomBytes(5, 4))}`,
      "header fin=true rsv=0 op=2 masked=true len=10",
      `frame ${hex(randomBytes(10, 5))}`,
      "header fin=true rsv=0 op=9 masked=true len=0",
      "frame ",
      "header fin=true rsv=0 op=11 masked=false len=1",
      "frame 09",
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      assert.deepEqual(
        frameLog([stream.subarray(0, cut), stream.subarray(cut)]),
        expected,
        `split at ${cut}`,
      );
    }
    const singles = Array.from(stream, (b) => Uint8Array.of(b));
    assert.deepEqual(frameLog(singles), expected);
  });

  test("a 64-bit length with the top bit set is reported as malformed and stops the parser", () => {
    const header = Uint8Array.of(0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4);
    const after = clientFrame(OP.text, "x");
    for (let cut = 0; cut <= header.length; cut++) {
      const log = frameLog([header.subarray(0, cut), header.subarray(cut), after]);
      assert.equal(log.length, 1, `split at ${cut}: ${log}`);
      assert.match(log[0], /^malformed /);
    }
  });

  test("onFramePart sees unmasked bytes as they arrive, and a false return stops parsing", () => {
    const payload = randomBytes(1000, 9);
    const frame = clientFrame(OP.binary, payload);
    const seen: number[] = [];
    let frames = 0;
    const parser = new FrameParser({
      onFrameHeader: () => true,
      onFramePart(part, received) {
        assert.deepEqual(part.subarray(0, received), payload.subarray(0, received));
        seen.push(received);
        return received < 500;
      },
      onFrame() {
        frames++;
        return true;
      },
      onMalformedHeader() {},
    });
    for (let at = 0; at < frame.length; at += 100) parser.push(frame.subarray(at, at + 100));
    // Header 8 bytes (16-bit length + mask): pieces carry 92, then 100 each.
    assert.deepEqual(seen, [92, 192, 292, 392, 492, 592]);
    assert.equal(frames, 0);
    assert.equal(parser.stopped, true);
  });

  test("a frame's buffer is at most 8 times what arrived, and a large frame is regrown at most twice", () => {
    // A header announcing 16 MiB followed by 1 MiB in 64 KiB pieces: the buffer follows what
    // arrives instead of what the header claims.
    const announced = 16 * 1024 * 1024;
    const piece = 64 * 1024;
    // Binary, masked, 64-bit length (16 MiB = 0x0100_0000), masking key 1 2 3 4.
    const header = Uint8Array.of(0x82, 0xff, 0, 0, 0, 0, announced >>> 24, 0, 0, 0, 1, 2, 3, 4);
    const capacities: number[] = [];
    const parser = new FrameParser({
      onFrameHeader: () => true,
      onFramePart(part, received) {
        assert.ok(part.length <= Math.max(8 * received, piece), `${part.length} for ${received}`);
        if (capacities.at(-1) !== part.length) capacities.push(part.length);
        return true;
      },
      onFrame: () => true,
      onMalformedHeader() {},
    });
    parser.push(header);
    for (let sent = 0; sent < 1024 * 1024; sent += piece) parser.push(new Uint8Array(piece));
    assert.deepEqual(capacities, [piece, 2 * piece, 4 * piece, 8 * piece, 16 * piece]);

    // A 1 MiB frame arriving in 64 KiB pieces: 64 KiB, 128 KiB, then the whole frame, so what is
    // received is copied again 192 KiB in all, not 960 KiB as doubling up to 1 MiB would.
    const whole: number[] = [];
    let payload: Uint8Array | null = null;
    const small = new FrameParser({
      onFrameHeader: () => true,
      onFramePart(part) {
        if (whole.at(-1) !== part.length) whole.push(part.length);
        return true;
      },
      onFrame(done) {
        payload = done;
        return true;
      },
      onMalformedHeader() {},
    });
    const body = randomBytes(1024 * 1024, 11);
    const frame = clientFrame(OP.binary, body);
    for (let at = 0; at < frame.length; at += piece) small.push(frame.subarray(at, at + piece));
    assert.deepEqual(whole, [piece, 2 * piece, 1024 * 1024]);
    assert.deepEqual(payload, body);
  });
});

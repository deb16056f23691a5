import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  encodeFrame,
  firstHeaderByte,
  frameHeaderLength,
  writeFrame,
  writeFrameHeader,
} from "../../src/protocol/frame_encoder.ts";
import { applyMask } from "../../src/protocol/mask.ts";
import { OP, readFrame } from "../helpers/wire.ts";
import { hex } from "../helpers/bytes.ts";
import { randomBytes } from "../helpers/random.ts";
import { record } from "./_receiver.ts";

const LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 3 * 1024 * 1024 + 7];
const MASK = Uint8Array.of(0xa1, 0x5e, 0x00, 0xff);

describe("encodeFrame round trips", () => {
  for (const masked of [false, true]) {
    for (const length of LENGTHS) {
      test(`${masked ? "masked" : "unmasked"}, ${length} bytes`, () => {
        const payload = randomBytes(length, length + 11);
        const frame = encodeFrame(OP.binary, payload, { mask: masked ? MASK : null });
        const headerLength = length <= 125 ? 2 : length <= 65535 ? 4 : 10;
        assert.equal(frame.length, headerLength + (masked ? 4 : 0) + length);

        // The independent test-side reader.
        const read = readFrame(frame);
        assert.ok(read !== null);
        assert.equal(read.end, frame.length);
        assert.equal(read.frame.fin, true);
        assert.equal(read.frame.rsv, 0);
        assert.equal(read.frame.opcode, OP.binary);
        assert.equal(read.frame.masked, masked);
        assert.ok(equalBytes(read.frame.payload, payload), "payload survives");
        if (masked && length > 0) {
          assert.ok(!equalBytes(frame.subarray(frame.length - length), payload), "is masked");
        }

        // The library's own receiver, in the matching role, whole and in odd-sized pieces.
        for (const piece of [frame.length, 1000, 4097]) {
          const { receiver, events } = record({ expectMasked: masked });
          for (let at = 0; at < frame.length; at += piece) {
            receiver.push(frame.subarray(at, at + piece));
          }
          assert.equal(events.length, 1, `one message (pieces of ${piece})`);
          assert.equal(events[0][0], "binary");
          assert.ok(events[0][1] === hex(payload), `payload (pieces of ${piece})`);
        }
      });
    }
  }

  test("text, fin and rsv1 options reach the wire", () => {
    const text = new TextEncoder().encode("héllo");
    const frame = encodeFrame(OP.text, text, { fin: false, rsv1: true });
    const read = readFrame(frame);
    assert.ok(read !== null);
    assert.equal(read.frame.fin, false);
    assert.equal(read.frame.rsv, 4);
    assert.equal(read.frame.opcode, OP.text);
    assert.deepEqual(read.frame.payload, text);

    const { receiver, events } = record({ expectMasked: true });
    receiver.push(encodeFrame(OP.text, text, { mask: MASK }));
    assert.deepEqual(events, [["text", "héllo"]]);
  });

  test("encodeFrame does not modify the payload it masks", () => {
    const payload = randomBytes(100, 3);
    const copy = payload.slice();
    encodeFrame(OP.binary, payload, { mask: MASK });
    assert.deepEqual(payload, copy);
  });
});

describe("writeFrameHeader length encodings", () => {
  const cases: Array<[number, number[]]> = [
    [0, [0x00]],
    [125, [0x7d]],
    [126, [0x7e, 0x00, 0x7e]],
    [127, [0x7e, 0x00, 0x7f]],
    [256, [0x7e, 0x01, 0x00]],
    [65535, [0x7e, 0xff, 0xff]],
    [65536, [0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]],
    [0xffff_ffff, [0x7f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]],
    [2 ** 32, [0x7f, 0, 0, 0, 0x01, 0, 0, 0, 0]],
    [2 ** 32 + 0x0102_0304, [0x7f, 0, 0, 0, 0x01, 0x01, 0x02, 0x03, 0x04]],
    [Number.MAX_SAFE_INTEGER, [0x7f, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
  ];
  for (const [length, lengthBytes] of cases) {
    test(`length ${length}`, () => {
      for (const mask of [null, MASK]) {
        const target = new Uint8Array(20).fill(0xee);
        const offset = 3;
        const first = firstHeaderByte(true, false, OP.binary);
        const end = writeFrameHeader(target, offset, first, length, mask);
        const expected = [0x82, ...lengthBytes];
        if (mask !== null) {
          expected[1] |= 0x80;
          expected.push(...mask);
        }
        assert.equal(end, offset + expected.length);
        assert.equal(end - offset, frameHeaderLength(length, mask !== null));
        assert.deepEqual([...target.subarray(offset, end)], expected);
        // Nothing written outside the header.
        assert.ok(target.subarray(0, offset).every((b) => b === 0xee));
        assert.ok(target.subarray(end).every((b) => b === 0xee));
        // The most significant bit of a 64-bit length is never set.
        if (lengthBytes.length === 9) assert.equal(target[offset + 2] & 0x80, 0);
      }
    });
  }

  test("firstHeaderByte", () => {
    assert.equal(firstHeaderByte(true, false, 0x1), 0x81);
    assert.equal(firstHeaderByte(false, false, 0x0), 0x00);
    assert.equal(firstHeaderByte(true, true, 0x2), 0xc2);
    assert.equal(firstHeaderByte(false, true, 0x9), 0x49);
  });

  test("writeFrame packs several frames into one buffer", () => {
    const a = randomBytes(10, 1);
    const b = randomBytes(300, 2);
    const size = frameHeaderLength(10, true) + 10 + frameHeaderLength(300, true) + 300;
    const target = new Uint8Array(size);
    let at = writeFrame(target, 0, 0x82, a, MASK);
    at = writeFrame(target, at, 0x81, b, MASK);
    assert.equal(at, size);
    const first = readFrame(target, 0);
    assert.ok(first !== null);
    assert.deepEqual(first.frame.payload, a);
    const second = readFrame(target, first.end);
    assert.ok(second !== null);
    assert.equal(second.end, size);
    assert.equal(second.frame.opcode, OP.text);
    assert.deepEqual(second.frame.payload, b);
  });
});

describe("applyMask", () => {
  test("matches the RFC definition for every length, offset and key rotation", () => {
    const source = randomBytes(37, 5);
    for (let length = 0; length <= 20; length++) {
      for (let maskOffset = 0; maskOffset < 9; maskOffset++) {
        const target = new Uint8Array(40).fill(0x55);
        applyMask(source, 3, target, 2, length, MASK, maskOffset);
        for (let i = 0; i < 40; i++) {
          const expected = i >= 2 && i < 2 + length
            ? source[3 + i - 2] ^ MASK[(maskOffset + i - 2) % 4]
            : 0x55;
          assert.equal(target[i], expected, `len ${length} offset ${maskOffset} byte ${i}`);
        }
      }
    }
  });

  test("masks in place and in pieces like in one go", () => {
    const payload = randomBytes(101, 6);
    const whole = new Uint8Array(101);
    applyMask(payload, 0, whole, 0, 101, MASK, 0);
    const pieces = payload.slice();
    for (const [start, end] of [[0, 3], [3, 4], [4, 50], [50, 101]]) {
      applyMask(pieces, start, pieces, start, end - start, MASK, start);
    }
    assert.deepEqual(pieces, whole);
  });
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

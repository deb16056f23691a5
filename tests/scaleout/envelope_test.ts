/**
 * The backplane envelope, unit by unit: what another instance's message must look like before
 * its frame reaches a subscriber. Envelopes and frames are built here by hand (frames with the
 * test-side codec), so a bug in our encoder cannot hide on both sides.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { openEnvelope } from "../../src/backplane.ts";
import { bytes, clientFrame, OP, serverFrame } from "../helpers/wire.ts";

const SELF = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const OTHER = Uint8Array.from({ length: 16 }, (_, i) => 200 - i);

function envelope(origin: Uint8Array, frame: Uint8Array, magic = 0xed, version = 1): Uint8Array {
  const out = new Uint8Array(2 + origin.length + frame.length);
  out[0] = magic;
  out[1] = version;
  out.set(origin, 2);
  out.set(frame, 2 + origin.length);
  return out;
}

describe("backplane envelope", () => {
  test("another instance's text and binary frames come out byte for byte", () => {
    for (
      const frame of [
        serverFrame(OP.text, "héllo"),
        serverFrame(OP.binary, [0, 255, 0xc0, 0x80]),
        serverFrame(OP.text, ""),
        serverFrame(OP.binary, new Uint8Array(125)),
        serverFrame(OP.binary, new Uint8Array(126)), // 16-bit length
        serverFrame(OP.text, "x".repeat(65_535)),
        serverFrame(OP.binary, new Uint8Array(65_536)), // 64-bit length
      ]
    ) {
      const opened = openEnvelope(envelope(OTHER, frame), SELF);
      assert.ok(opened instanceof Uint8Array, `refused a frame of ${frame.length} bytes`);
      assert.deepEqual(opened, frame);
    }
  });

  test("this instance's own message is recognised", () => {
    assert.equal(openEnvelope(envelope(SELF, serverFrame(OP.text, "mine")), SELF), "own");
  });

  test("an origin that differs in its last byte is not this instance", () => {
    const almost = SELF.slice();
    almost[15] ^= 1;
    assert.ok(
      openEnvelope(envelope(almost, serverFrame(OP.text, "x")), SELF) instanceof Uint8Array,
    );
  });

  const invalid: Array<[string, Uint8Array]> = [
    ["empty", new Uint8Array(0)],
    ["header only", envelope(OTHER, new Uint8Array(0))],
    ["wrong marker", envelope(OTHER, serverFrame(OP.text, "x"), 0xee)],
    ["unknown version", envelope(OTHER, serverFrame(OP.text, "x"), 0xed, 2)],
    ["a masked frame", envelope(OTHER, clientFrame(OP.text, "x"))],
    // 248 bytes with a 16-bit length and a mask: 256 bytes in all, what the second header byte
    // (0xfe) would claim if the mask bit were taken for part of a 7-bit length.
    [
      "a masked frame whose size fits its misread length",
      envelope(OTHER, clientFrame(OP.binary, new Uint8Array(248))),
    ],
    ["a ping", envelope(OTHER, serverFrame(OP.ping, "x"))],
    ["a close frame", envelope(OTHER, serverFrame(OP.close, [3, 232]))],
    ["a continuation", envelope(OTHER, serverFrame(OP.cont, "x"))],
    [
      "a fragment (FIN clear)",
      envelope(OTHER, clientFrame(OP.text, "x", { fin: false, mask: false })),
    ],
    ["RSV1 set", envelope(OTHER, clientFrame(OP.binary, "x", { rsv: 4, mask: false }))],
    ["a truncated payload", envelope(OTHER, serverFrame(OP.binary, "abcdef").subarray(0, 6))],
    ["bytes after the frame", envelope(OTHER, bytes([...serverFrame(OP.binary, "ab"), 0]))],
    [
      "two frames",
      envelope(OTHER, bytes([...serverFrame(OP.text, "a"), ...serverFrame(OP.text, "b")])),
    ],
    ["a truncated 16-bit length", envelope(OTHER, bytes([0x82, 126, 1]))],
    ["a truncated 64-bit length", envelope(OTHER, bytes([0x82, 127, 0, 0, 0, 0, 0, 1]))],
    [
      "a 16-bit length for 5 bytes",
      envelope(OTHER, clientFrame(OP.binary, "hello", { mask: false, lengthBits: 16 })),
    ],
    [
      "a 64-bit length for 5 bytes",
      envelope(OTHER, clientFrame(OP.binary, "hello", { mask: false, lengthBits: 64 })),
    ],
    [
      "a 64-bit length with the top bit set",
      envelope(OTHER, bytes([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 0])),
    ],
    ["text that is not UTF-8", envelope(OTHER, serverFrame(OP.text, [0x68, 0xc0, 0xaf]))],
    ["text with a lone surrogate's bytes", envelope(OTHER, serverFrame(OP.text, "hex:ed a0 80"))],
  ];
  for (const [name, message] of invalid) {
    test(`refuses ${name}`, () => {
      assert.equal(openEnvelope(message, SELF), "invalid");
    });
  }
});

/**
 * The codec microbenchmark cases, shared by bench/codec_bench.ts (`deno bench`) and bench/codec.ts
 * (a portable GB/s runner for Deno and Bun). Each case does one iteration's worth of work over
 * pre-built buffers, and says how many payload bytes that is.
 *
 *   parse          Receiver.push over a buffer of many masked binary frames, fed in 64 KiB
 *                  chunks that the caller reuses (owned = false: payloads are copied out).
 *   parse-owned    the same with owned = true (fresh chunks: large payloads are unmasked in
 *                  place and handed on as views).
 *   encode         encodeFrame(Binary, payload): a server frame in a new buffer (the publish path).
 *   encode-masked  writeFrame with a masking key into a reused buffer (the client send path).
 *   unmask         maskInPlace over the payload.
 * @module
 */

import { Receiver, type ReceiverHandler } from "../src/protocol/receiver.ts";
import {
  encodeFrame,
  firstHeaderByte,
  frameHeaderLength,
  writeFrame,
} from "../src/protocol/frame_encoder.ts";
import { maskInPlace } from "../src/protocol/mask.ts";
import { Opcode } from "../src/protocol/opcodes.ts";

export const CODEC_SIZES = [32, 1024, 16 * 1024, 1024 * 1024];
export const CODEC_OPS = ["parse", "parse-owned", "encode", "encode-masked", "unmask"] as const;
export type CodecOp = typeof CODEC_OPS[number];

export interface CodecCase {
  op: CodecOp;
  /** Payload bytes per frame. */
  size: number;
  /** Frames per iteration. */
  frames: number;
  /** Payload bytes per iteration (frames x size): what GB/s is computed from. */
  bytes: number;
  run(): void;
}

/** Every iteration handles at least this many payload bytes (and at least 4 frames). */
const BYTES_PER_ITERATION = 256 * 1024;
const CHUNK = 64 * 1024;
const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

export function fmtBytes(n: number): string {
  if (n >= 1048576 && n % 1048576 === 0) return `${n / 1048576} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

function payload(size: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = (i * 31 + 7) & 0xff;
  return p;
}

function parseCase(size: number, frames: number, owned: boolean): CodecCase {
  const data = payload(size);
  const frameLen = frameHeaderLength(size, true) + size;
  const stream = new Uint8Array(frameLen * frames);
  const first = firstHeaderByte(true, false, Opcode.Binary);
  for (let f = 0; f < frames; f++) writeFrame(stream, f * frameLen, first, data, MASK);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < stream.length; at += CHUNK) chunks.push(stream.subarray(at, at + CHUNK));
  let messages = 0;
  let bytes = 0;
  const handler: ReceiverHandler = {
    onMessage(m) {
      messages++;
      bytes += m.length;
    },
    onPing() {},
    onPong() {},
    onClose() {},
    onProtocolError({ code, reason }) {
      throw new Error(`parse failed: ${code} ${reason}`);
    },
  };
  const receiver = new Receiver(handler, {
    expectMasked: true,
    maxPayload: 64 * 1024 * 1024,
    maxFragments: 1024,
  });
  return {
    op: owned ? "parse-owned" : "parse",
    size,
    frames,
    bytes: size * frames,
    run() {
      messages = 0;
      bytes = 0;
      for (let i = 0; i < chunks.length; i++) receiver.push(chunks[i], owned);
      if (messages !== frames || bytes !== size * frames) {
        throw new Error(`parse: ${messages} messages / ${bytes} bytes, expected ${frames}`);
      }
    },
  };
}

function encodeCase(size: number, frames: number): CodecCase {
  const data = payload(size);
  let sink = 0;
  return {
    op: "encode",
    size,
    frames,
    bytes: size * frames,
    run() {
      for (let f = 0; f < frames; f++) sink += encodeFrame(Opcode.Binary, data).length;
      if (sink < 0) throw new Error("unreachable");
    },
  };
}

function encodeMaskedCase(size: number, frames: number): CodecCase {
  const data = payload(size);
  const frameLen = frameHeaderLength(size, true) + size;
  const target = new Uint8Array(frameLen * frames);
  const first = firstHeaderByte(true, false, Opcode.Binary);
  return {
    op: "encode-masked",
    size,
    frames,
    bytes: size * frames,
    run() {
      let at = 0;
      for (let f = 0; f < frames; f++) at = writeFrame(target, at, first, data, MASK);
    },
  };
}

function unmaskCase(size: number, frames: number): CodecCase {
  const buf = payload(size * frames);
  return {
    op: "unmask",
    size,
    frames,
    bytes: size * frames,
    run() {
      for (let f = 0; f < frames; f++) maskInPlace(buf, f * size, size, MASK, 0);
    },
  };
}

/** Builds the cases for `ops` x `sizes`. */
export function codecCases(
  ops: readonly CodecOp[] = CODEC_OPS,
  sizes: readonly number[] = CODEC_SIZES,
): CodecCase[] {
  const out: CodecCase[] = [];
  for (const op of ops) {
    for (const size of sizes) {
      const frames = Math.max(4, Math.ceil(BYTES_PER_ITERATION / size));
      if (op === "parse") out.push(parseCase(size, frames, false));
      else if (op === "parse-owned") out.push(parseCase(size, frames, true));
      else if (op === "encode") out.push(encodeCase(size, frames));
      else if (op === "encode-masked") out.push(encodeMaskedCase(size, frames));
      else out.push(unmaskCase(size, frames));
    }
  }
  return out;
}

/**
 * Frame encoding (RFC 6455 §5.2): header layout with 7-, 16- and 64-bit lengths, optional
 * masking. The encoder writes into caller-provided memory so that the sender can pack many frames
 * into one buffer and write them with one call.
 * @module
 */

import { applyMask } from "./mask.ts";

/** The largest payload whose length fits the 7-bit field. */
const MAX_7_BIT = 125;
/** The largest payload whose length fits the 16-bit extended field. */
const MAX_16_BIT = 0xffff;
const TWO_TO_32 = 0x1_0000_0000;

/** How many header bytes a frame with this payload length takes. */
export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength <= MAX_7_BIT ? 2 : payloadLength <= MAX_16_BIT ? 4 : 10;
  return masked ? base + 4 : base;
}

/** The first header byte: FIN, RSV1 (used by permessage-deflate) and the opcode. */
export function firstHeaderByte(fin: boolean, rsv1: boolean, opcode: number): number {
  return (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
}

/**
 * Writes a frame header at `offset` and returns where the payload starts. `mask` is the 4-byte
 * masking key for client frames, or null for server frames.
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  firstByte: number,
  payloadLength: number,
  mask: Uint8Array | null,
): number {
  const maskBit = mask === null ? 0 : 0x80;
  target[offset] = firstByte;
  let at = offset + 2;
  if (payloadLength <= MAX_7_BIT) {
    target[offset + 1] = maskBit | payloadLength;
  } else if (payloadLength <= MAX_16_BIT) {
    target[offset + 1] = maskBit | 126;
    target[offset + 2] = payloadLength >>> 8;
    target[offset + 3] = payloadLength & 0xff;
    at = offset + 4;
  } else {
    // 64-bit length, most significant bit always 0. Lengths above 2^53 cannot be a Uint8Array.
    const high = Math.floor(payloadLength / TWO_TO_32);
    const low = payloadLength >>> 0;
    target[offset + 1] = maskBit | 127;
    target[offset + 2] = high >>> 24;
    target[offset + 3] = (high >>> 16) & 0xff;
    target[offset + 4] = (high >>> 8) & 0xff;
    target[offset + 5] = high & 0xff;
    target[offset + 6] = low >>> 24;
    target[offset + 7] = (low >>> 16) & 0xff;
    target[offset + 8] = (low >>> 8) & 0xff;
    target[offset + 9] = low & 0xff;
    at = offset + 10;
  }
  if (mask !== null) {
    target[at] = mask[0];
    target[at + 1] = mask[1];
    target[at + 2] = mask[2];
    target[at + 3] = mask[3];
    at += 4;
  }
  return at;
}

/**
 * Writes a whole frame (header and payload, masked when `mask` is given) at `offset` and returns
 * the offset just past it. `target` must have `frameHeaderLength(...) + payload.length` bytes
 * free there.
 */
export function writeFrame(
  target: Uint8Array,
  offset: number,
  firstByte: number,
  payload: Uint8Array,
  mask: Uint8Array | null,
): number {
  const start = writeFrameHeader(target, offset, firstByte, payload.length, mask);
  if (mask === null) target.set(payload, start);
  else applyMask(payload, 0, target, start, payload.length, mask, 0);
  return start + payload.length;
}

/** Options for {@link encodeFrame}. */
export interface EncodeFrameOptions {
  /** Whether this is the final frame of its message. Defaults to true. */
  fin?: boolean;
  /** Sets RSV1, which permessage-deflate uses to mark a compressed message. Defaults to false. */
  rsv1?: boolean;
  /** A 4-byte masking key (clients must mask every frame), or null (servers never mask). */
  mask?: Uint8Array | null;
}

/** Encodes one frame into a new buffer. */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: EncodeFrameOptions = {},
): Uint8Array {
  const mask = options.mask ?? null;
  const out = new Uint8Array(frameHeaderLength(payload.length, mask !== null) + payload.length);
  writeFrame(
    out,
    0,
    firstHeaderByte(options.fin ?? true, options.rsv1 ?? false, opcode),
    payload,
    mask,
  );
  return out;
}

/**
 * What the send methods accept, and the whole-message frame that publishing encodes once for
 * every subscriber (and for the backplane).
 * @module
 */

import { firstHeaderByte, frameHeaderLength, writeFrame } from "../protocol/frame_encoder.ts";
import { Opcode } from "../protocol/opcodes.ts";

/** What `send` accepts: text, or bytes in any of the usual shapes. */
export type SendData = string | Uint8Array | ArrayBuffer | ArrayBufferView;

const encoder = new TextEncoder();

/** The bytes of a binary payload, without copying. */
export function toBytes(data: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  throw new TypeError("send() takes a string, an ArrayBuffer or an ArrayBufferView");
}

/**
 * A whole unmasked message frame (text for a string, binary for bytes), in a new buffer that
 * starts with `prefix` free bytes for the caller (the backplane's envelope header).
 */
export function encodeMessageFrame(data: SendData, prefix = 0): Uint8Array {
  const text = typeof data === "string";
  const payload = messagePayload(data);
  const out = new Uint8Array(prefix + frameHeaderLength(payload.length, false) + payload.length);
  writeFrame(out, prefix, messageHeaderByte(text), payload, null);
  return out;
}

/** A message's payload: a string's UTF-8, or the bytes themselves (uncopied). */
function messagePayload(data: SendData): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : toBytes(data);
}

function messageHeaderByte(text: boolean): number {
  return firstHeaderByte(true, false, text ? Opcode.Text : Opcode.Binary);
}

/** The arena's buffers; frames larger than a quarter of one get a buffer of their own. */
const ARENA_SIZE = 64 * 1024;

/**
 * Where published frames are encoded: an append-only buffer shared by all topics, never
 * rewritten. Frames published one after another sit side by side in it, so a subscriber that is
 * handed several in a row before its next write sends them as one slice of the arena, by
 * reference, instead of copying each into a batch of its own (with a thousand subscribers, the
 * copying cost more than the socket writes). A full buffer is left to the slices still using it,
 * and the next frames go into a new one.
 */
export class FrameArena {
  #bytes: Uint8Array = new Uint8Array(0);
  #used = 0;

  /** `data` as a whole message frame (see {@link encodeMessageFrame}), never modified after. */
  encode(data: SendData): Uint8Array {
    const text = typeof data === "string";
    const payload = messagePayload(data);
    const size = frameHeaderLength(payload.length, false) + payload.length;
    if (size > ARENA_SIZE / 4) {
      const out = new Uint8Array(size);
      writeFrame(out, 0, messageHeaderByte(text), payload, null);
      return out;
    }
    if (this.#used + size > this.#bytes.length) {
      this.#bytes = new Uint8Array(ARENA_SIZE);
      this.#used = 0;
    }
    const start = this.#used;
    this.#used = writeFrame(this.#bytes, start, messageHeaderByte(text), payload, null);
    return this.#bytes.subarray(start, this.#used);
  }
}

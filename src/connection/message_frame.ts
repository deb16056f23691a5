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

/** A message's payload: a string's UTF-8, or the bytes themselves (uncopied). */
function messagePayload(data: SendData): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : toBytes(data);
}

function messageHeaderByte(text: boolean): number {
  return firstHeaderByte(true, false, text ? Opcode.Text : Opcode.Binary);
}

/**
 * The arena's buffers; frames larger than a quarter of one get a buffer of their own. Large, so
 * that what one turn publishes (a hundred 1 KiB messages under load) seldom straddles two buffers:
 * a subscriber then writes it as one slice instead of copying it. (With 64 KiB, a broadcast of
 * 1 KiB messages to a thousand subscribers ran about 15% slower on Bun and half as fast on Node.)
 */
const ARENA_SIZE = 512 * 1024;

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

  /**
   * `data` as a whole unmasked message frame (text for a string, binary for bytes), never modified
   * after.
   */
  encode(data: SendData): Uint8Array {
    const payload = messagePayload(data);
    const out = this.#allocate(frameHeaderLength(payload.length, false) + payload.length);
    writeFrame(out, 0, messageHeaderByte(typeof data === "string"), payload, null);
    return out;
  }

  /**
   * A copy of an encoded `frame` (another instance's publish, in memory its backplane lends), so
   * that it too sits side by side with the frames published before and after it.
   */
  copy(frame: Uint8Array): Uint8Array {
    const out = this.#allocate(frame.length);
    out.set(frame);
    return out;
  }

  /** `size` bytes after the last frame, or in a buffer of their own for a large frame. */
  #allocate(size: number): Uint8Array {
    if (size > ARENA_SIZE / 4) return new Uint8Array(size);
    if (this.#used + size > this.#bytes.length) {
      this.#bytes = new Uint8Array(ARENA_SIZE);
      this.#used = 0;
    }
    const start = this.#used;
    this.#used += size;
    return this.#bytes.subarray(start, this.#used);
  }
}

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
  const payload = text ? encoder.encode(data) : toBytes(data);
  const out = new Uint8Array(prefix + frameHeaderLength(payload.length, false) + payload.length);
  writeFrame(
    out,
    prefix,
    firstHeaderByte(true, false, text ? Opcode.Text : Opcode.Binary),
    payload,
    null,
  );
  return out;
}

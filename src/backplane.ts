/**
 * The backplane: what carries topic messages between the instances of one application when it
 * runs as several processes or on several machines. The server knows only this interface; an
 * engine (Redis, in `@edgews/edgews/redis`) implements it, so the core has no dependencies.
 *
 * The server owns the message format. What it hands to {@link Backplane.publish} is an envelope:
 * the publishing instance's id, then the whole WebSocket frame, encoded once. The receiving
 * instances check it and queue the same frame bytes for their subscribers, and an instance
 * recognises its own messages when the engine hands them back, so nobody gets one twice.
 * @module
 */

import { Opcode } from "./protocol/opcodes.ts";
import { strictUtf8 } from "./protocol/utf8.ts";

/**
 * Carries topic messages between instances. Give one to `serve({ backplane })`; the server then
 * calls it as its topics change and as messages are published, and closes it on shutdown. One
 * backplane serves one server.
 *
 * Every method is called synchronously from the server's hot path: it must return at once, do its
 * I/O in the background, and never throw. While the engine is unreachable, `publish` drops (or
 * buffers, within a bound) and `subscribe` / `unsubscribe` are remembered for the reconnect.
 */
export interface Backplane {
  /**
   * Called once, by the server, before any other method: `receive` takes each message that
   * arrives from the engine, with its topic, and says what became of it. It copies what it keeps,
   * so the message's memory may be reused once it returns.
   */
  attach(receive: (topic: string, message: Uint8Array) => BackplaneReceipt): void;
  /** This instance has its first local subscriber to `topic`: start receiving its messages. */
  subscribe(topic: string): void;
  /** This instance's last local subscriber to `topic` has left: stop receiving its messages. */
  unsubscribe(topic: string): void;
  /**
   * Carries `message` to every instance subscribed to `topic` (this one included or not: the
   * server ignores its own). The bytes are opaque: deliver them unchanged, in the order published.
   */
  publish(topic: string, message: Uint8Array): void;
  /** The server has shut down: stop, and release connections. */
  close(): Promise<void>;
}

/**
 * What the server did with a message from the backplane: queued it for its local subscribers,
 * recognised it as its own, or refused it as not an edgews message (a backplane may count these).
 */
export type BackplaneReceipt = "delivered" | "own" | "invalid";

/** The first two bytes of every envelope: a marker and the format's version. */
const MAGIC = 0xed;
const VERSION = 1;
/** Bytes of an instance id. */
export const ORIGIN_BYTES = 16;
/** Bytes before the frame: marker, version, origin. */
export const ENVELOPE_HEADER_BYTES = 2 + ORIGIN_BYTES;

/** A new random instance id. */
export function newOrigin(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(ORIGIN_BYTES));
}

/**
 * Writes the envelope header for `origin` at the start of `target`, which has room for it
 * followed by the frame (at {@link ENVELOPE_HEADER_BYTES}).
 */
export function writeEnvelopeHeader(target: Uint8Array, origin: Uint8Array): void {
  target[0] = MAGIC;
  target[1] = VERSION;
  target.set(origin, 2);
}

/**
 * The frame inside an envelope from the backplane, or `"own"` when `self` published it, or
 * `"invalid"` when it is not a well-formed envelope holding one whole, unmasked text or binary
 * frame (with valid UTF-8 for text). Nothing that would harm a subscriber gets through: whoever
 * else can write to the engine, subscribers only ever receive frames they can parse.
 */
export function openEnvelope(
  message: Uint8Array,
  self: Uint8Array,
): Uint8Array | "own" | "invalid" {
  if (
    message.length < ENVELOPE_HEADER_BYTES + 2 || message[0] !== MAGIC || message[1] !== VERSION
  ) {
    return "invalid";
  }
  let own = true;
  for (let i = 0; i < ORIGIN_BYTES; i++) {
    if (message[2 + i] !== self[i]) {
      own = false;
      break;
    }
  }
  if (own) return "own";
  const frame = message.subarray(ENVELOPE_HEADER_BYTES);
  const first = frame[0];
  if (first !== (0x80 | Opcode.Text) && first !== (0x80 | Opcode.Binary)) return "invalid";
  const length7 = frame[1]; // with the mask bit clear: server frames are never masked
  let headerLength = 2;
  let payloadLength = length7;
  if (length7 === 126) {
    headerLength = 4;
    payloadLength = frame.length >= 4 ? (frame[2] << 8) | frame[3] : -1;
    if (payloadLength < 126) return "invalid"; // truncated, or not the shortest length encoding
  } else if (length7 === 127) {
    headerLength = 10;
    payloadLength = frame.length >= 10 ? readUint64(frame, 2) : -1;
    if (payloadLength <= 0xffff) return "invalid";
  } else if (length7 > 127) {
    return "invalid";
  }
  if (headerLength + payloadLength !== frame.length) return "invalid";
  if (first === (0x80 | Opcode.Text)) {
    try {
      strictUtf8.decode(frame.subarray(headerLength));
    } catch {
      return "invalid";
    }
  }
  return frame;
}

/** A big-endian 64-bit length (beyond 2^53 it is inexact, and matches no buffer's length). */
function readUint64(bytes: Uint8Array, at: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
  return view.getUint32(0) * 2 ** 32 + view.getUint32(4);
}

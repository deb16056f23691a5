/**
 * An incremental frame parser (RFC 6455 §5.2). It takes bytes as they arrive, in chunks of any
 * size: many frames in one chunk are parsed in one pass, and a frame split across chunks is
 * resumed where it stopped. It knows framing only; what frames mean is the sink's business.
 * @module
 */

import { EMPTY_BYTES } from "./bytes.ts";
import type { CloseCause } from "./close_causes.ts";
import { applyMask, maskInPlace } from "./mask.ts";

/** Where the parser reports frames. Each method returns false to stop parsing for good. */
export interface FrameSink {
  /**
   * A frame header is complete. `rsv` holds RSV1–3 as bits 0x4, 0x2, 0x1. Returning false stops
   * the parser before any payload is read, so limits can refuse a frame by its header alone.
   */
  onFrameHeader(
    fin: boolean,
    rsv: number,
    opcode: number,
    masked: boolean,
    length: number,
  ): boolean;
  /**
   * Part of the current frame's payload has arrived, unmasked in `payload[0 .. received)`.
   * Called only for frames that span chunks, so text can be validated before the frame ends.
   */
  onFramePart(payload: Uint8Array, received: number): boolean;
  /** The current frame is complete; `payload` is a fresh array the sink may keep. */
  onFrame(payload: Uint8Array): boolean;
  /** The header itself is malformed (a 64-bit length with the top bit set). */
  onMalformedHeader(cause: CloseCause): void;
}

const HEADER = 0;
const PAYLOAD = 1;
const STOPPED = 2;
/** The longest header: 2 bytes, 8 for a 64-bit length, 4 for the mask. */
const MAX_HEADER = 14;
/** Stands for "no masking key yet"; never written to. */
const NO_MASK = new Uint8Array(4);
/** Frames that span chunks grow their buffer from here, so a length in a header is no allocation. */
const INITIAL_PARTIAL_CAPACITY = 64 * 1024;
/**
 * A frame that spans chunks gets its whole buffer once this fraction of it (1/8) has arrived:
 * the buffer is never larger than 8 times the bytes received (or the first 64 KiB).
 */
const ALLOCATION_BOUND = 8;
/**
 * Payloads from this size up are handed on as views into an owned chunk. Smaller ones are copied:
 * the copy is cheap, and a small message kept by the application should not keep a whole chunk
 * alive.
 */
const ZERO_COPY_MIN = 4 * 1024;

function zeroedBytes(size: number): Uint8Array {
  return new Uint8Array(size);
}

/** Parses a byte stream into frames, reporting them to a {@link FrameSink}. */
export class FrameParser {
  readonly #sink: FrameSink;
  #state = HEADER;
  /** Header bytes saved when a header is split across chunks; created the first time one is. */
  #headerScratch: Uint8Array | null = null;
  #headerFill = 0;
  // The frame being read.
  #masked = false;
  /** The frame's masking key; created with the first masked frame (idle connections have none). */
  #mask: Uint8Array = NO_MASK;
  #length = 0;
  #received = 0;
  #payload: Uint8Array = EMPTY_BYTES;
  readonly #allocate: (size: number) => Uint8Array;

  /**
   * Creates a parser that reports to `sink`. `allocate` makes the buffer of a frame that spans
   * chunks; every byte of it is written before it is read, so it need not be zeroed, and for
   * large frames zeroing is a measurable share of the work. The default zeroes (plain JavaScript
   * has no other way); the connection passes one that does not.
   */
  constructor(sink: FrameSink, allocate: (size: number) => Uint8Array = zeroedBytes) {
    this.#sink = sink;
    this.#allocate = allocate;
  }

  /** Whether the parser has stopped (the sink refused a frame); later input is ignored. */
  get stopped(): boolean {
    return this.#state === STOPPED;
  }

  /** Stops the parser: input after a fatal error or a close frame is discarded unread. */
  stop(): void {
    this.#state = STOPPED;
    this.#payload = EMPTY_BYTES;
  }

  /**
   * Feeds the next chunk of the byte stream. When `owned` is false (the caller will reuse the
   * chunk's memory) the parser keeps nothing of it: payloads are copied out. When it is true,
   * large payloads are unmasked in place and handed on as views into `chunk`, with no copy.
   */
  push(chunk: Uint8Array, owned = false): void {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      if (this.#state === HEADER) {
        if (this.#headerFill === 0) {
          const used = this.#readHeader(chunk, pos, end);
          if (used < 0) return;
          if (used === 0) {
            (this.#headerScratch ??= new Uint8Array(MAX_HEADER)).set(chunk.subarray(pos, end));
            this.#headerFill = end - pos;
            return;
          }
          pos += used;
        } else {
          // Complete a header that began in an earlier chunk, copying no more than it needs.
          const take = Math.min(MAX_HEADER - this.#headerFill, end - pos);
          const scratch = this.#headerScratch!;
          scratch.set(chunk.subarray(pos, pos + take), this.#headerFill);
          const used = this.#readHeader(scratch, 0, this.#headerFill + take);
          if (used < 0) return;
          if (used === 0) {
            this.#headerFill += take;
            return;
          }
          pos += used - this.#headerFill;
          this.#headerFill = 0;
        }
        if (this.#length === 0) {
          this.#state = HEADER;
          if (!this.#sink.onFrame(EMPTY_BYTES)) return this.stop();
          continue;
        }
        this.#state = PAYLOAD;
        // The header may end this chunk: report no payload part until payload bytes arrive.
        continue;
      } else if (this.#state === STOPPED) {
        return;
      }

      // PAYLOAD
      const available = end - pos;
      const missing = this.#length - this.#received;
      if (this.#received === 0 && available >= missing) {
        // The common case: the whole payload is in this chunk. One copy at most, no growth.
        let payload: Uint8Array;
        if (owned && missing >= ZERO_COPY_MIN) {
          payload = chunk.subarray(pos, pos + missing);
          if (this.#masked) maskInPlace(chunk, pos, missing, this.#mask, 0);
        } else {
          payload = new Uint8Array(missing);
          if (this.#masked) applyMask(chunk, pos, payload, 0, missing, this.#mask, 0);
          else payload.set(chunk.subarray(pos, pos + missing));
        }
        pos += missing;
        this.#state = HEADER;
        if (!this.#sink.onFrame(payload)) return this.stop();
        continue;
      }
      const take = Math.min(available, missing);
      this.#reserve(this.#received + take);
      if (this.#masked) {
        applyMask(chunk, pos, this.#payload, this.#received, take, this.#mask, this.#received);
      } else {
        this.#payload.set(chunk.subarray(pos, pos + take), this.#received);
      }
      pos += take;
      this.#received += take;
      if (this.#received === this.#length) {
        const payload = this.#payload.length === this.#length
          ? this.#payload
          : this.#payload.slice(0, this.#length);
        this.#payload = EMPTY_BYTES;
        this.#received = 0;
        this.#state = HEADER;
        if (!this.#sink.onFrame(payload)) return this.stop();
      } else if (!this.#sink.onFramePart(this.#payload, this.#received)) {
        return this.stop();
      }
    }
  }

  /**
   * Reads a header from `bytes[start .. end)`. Returns how many bytes it used, 0 when the header
   * is not complete yet, or -1 when it was refused (the parser has stopped).
   */
  #readHeader(bytes: Uint8Array, start: number, end: number): number {
    if (end - start < 2) return 0;
    const b0 = bytes[start];
    const b1 = bytes[start + 1];
    const masked = (b1 & 0x80) !== 0;
    const length7 = b1 & 0x7f;
    const size = 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (end - start < size) return 0;
    let at = start + 2;
    let length = length7;
    if (length7 === 126) {
      length = (bytes[at] << 8) | bytes[at + 1];
      at += 2;
    } else if (length7 === 127) {
      const high =
        ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
      if (high >= 0x8000_0000) {
        this.stop();
        this.#sink.onMalformedHeader("invalid-length");
        return -1;
      }
      const low =
        ((bytes[at + 4] << 24) | (bytes[at + 5] << 16) | (bytes[at + 6] << 8) | bytes[at + 7]) >>>
        0;
      length = high * 0x1_0000_0000 + low;
      at += 8;
    }
    if (masked) {
      if (this.#mask === NO_MASK) this.#mask = new Uint8Array(4);
      const mask = this.#mask;
      mask[0] = bytes[at];
      mask[1] = bytes[at + 1];
      mask[2] = bytes[at + 2];
      mask[3] = bytes[at + 3];
    }
    this.#masked = masked;
    this.#length = length;
    this.#received = 0;
    if (!this.#sink.onFrameHeader((b0 & 0x80) !== 0, (b0 >>> 4) & 0x7, b0 & 0x0f, masked, length)) {
      this.stop();
      return -1;
    }
    return size;
  }

  /**
   * Grows the partial-frame buffer to hold `needed` bytes: doubling while little of the frame has
   * arrived, then straight to the whole frame, so that a large frame is regrown at most a few
   * times (each regrowth copies everything received so far) while a header that announces a
   * large frame still costs at most {@link ALLOCATION_BOUND} times the bytes actually sent.
   */
  #reserve(needed: number): void {
    if (this.#payload.length >= needed) return;
    let capacity = needed * ALLOCATION_BOUND >= this.#length
      ? this.#length
      : Math.max(this.#payload.length * 2, INITIAL_PARTIAL_CAPACITY, needed);
    if (capacity > this.#length) capacity = this.#length;
    const grown = this.#allocate(capacity);
    grown.set(this.#payload.subarray(0, this.#received));
    this.#payload = grown;
  }
}

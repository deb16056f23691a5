/**
 * The sending half of a connection, as `ws` splits its sender from its receiver. Frames queued
 * during a turn of the event loop are packed into one pooled buffer and written once; while a
 * write is in flight, the next batch keeps growing behind it. The sender counts what the socket
 * has not taken yet (`bufferedAmount`), refuses messages past the backpressure limit, says when
 * the buffer has drained, masks frames on the client side, and keeps every frame in order behind
 * a message that permessage-deflate is still compressing. It knows nothing of the closing
 * handshake: the connection decides what may be sent, the sender how.
 * @module
 */

import { firstHeaderByte, frameHeaderLength, writeFrame } from "../protocol/frame_encoder.ts";
import { Opcode } from "../protocol/opcodes.ts";
import type { DeflateAgreement } from "../handshake/permessage_deflate.ts";
import { OutboundDeflate } from "./compression.ts";
import { unzeroedBytes } from "./unzeroed_bytes.ts";
import { returnWriteBuffer, takeWriteBuffer, WRITE_BUFFER_SIZE } from "./write_buffers.ts";

/**
 * What happened to a message handed to `send`:
 * - `"sent"`: queued for the socket, and the send buffer is within `backpressureLimit`;
 * - `"backpressure"`: queued, but the buffer is now over the limit: wait for `drain` (or
 *   `drained()`), because messages sent before it empties are dropped;
 * - `"dropped"`: not queued, because the buffer was already over the limit (see
 *   `closeOnBackpressureLimit`) or the connection is no longer open.
 */
export type SendStatus = "sent" | "backpressure" | "dropped";

/** How a {@link Sender} sends. */
export interface SenderOptions {
  /** Mask every frame with a fresh random key: the client's role (RFC 6455 §5.3). */
  mask: boolean;
  /** Bytes not yet taken by the socket beyond which messages are refused. */
  backpressureLimit: number;
  /** permessage-deflate as negotiated, or null when messages go uncompressed. */
  deflate: DeflateAgreement | null;
}

/** What a {@link Sender} tells its connection. */
export interface SenderEvents {
  /** The buffer has emptied after a message was refused or took it over the limit. */
  onDrain(): void;
  /** A write failed: the socket is gone. */
  onWriteFailed(): void;
}

/** Frames up to this size are copied into the shared batch; larger ones get their own write. */
const BATCH_FRAME_LIMIT = 64 * 1024;

/**
 * A slice of shared frames at least this long is written by reference when the next shared frame
 * does not follow it, rather than copied into the batch ahead of that frame.
 */
const SHARED_SLICE_WRITE_MIN = 16 * 1024;

/** Queues, batches and writes the frames of one connection. */
export class Sender {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #mask: boolean;
  readonly #limit: number;
  readonly #events: SenderEvents;
  /** permessage-deflate's outbound chain; null when it was not negotiated. */
  readonly #deflate: OutboundDeflate | null = null;

  // Frames queued in #batch until the end of the current task, then one write.
  #batch: Uint8Array | null = null;
  #batchLength = 0;
  /**
   * Shared frames queued while the batch is empty, when they lie side by side in one buffer
   * (published frames, see FrameArena): the first of them, and their length together. They are
   * written as one slice of that buffer, by reference. Anything else queued after them goes into
   * the batch, behind a copy of them (or, for a slice of 16 KiB or more, behind the slice's own
   * write).
   */
  #shared: Uint8Array | null = null;
  #sharedLength = 0;
  /** The buffer the shared frames lie in. */
  #sharedBuffer: ArrayBufferLike | null = null;
  #flushScheduled = false;
  /** A batch waits for the write in flight to finish, then goes out as one write (#onWritten). */
  #flushWhenWritten = false;
  /** Writes handed to the writer and not yet done, oldest first (their buffers are reused). */
  readonly #writesInFlight: Uint8Array[] = [];
  #bytesInFlight = 0;
  #lastSentAt = Date.now();
  /**
   * A send took the buffer over the limit: say so when it empties. (A refused one needs no mark
   * of its own: the buffer can only be over the limit after such a send.)
   */
  #needsDrain = false;
  #drainWaiters: Array<() => void> = [];
  /** No more frames: the socket is closing (#end) or gone (stop). */
  #ended = false;

  // Created with the first write: an idle connection sends nothing and needs none of them.
  #flushBound: (() => void) | null = null;
  #onWrittenBound: (() => void) | null = null;
  #onWriteFailedBound: (() => void) | null = null;

  /** A sender writing to `writer`. */
  constructor(
    writer: WritableStreamDefaultWriter<Uint8Array>,
    options: SenderOptions,
    events: SenderEvents,
  ) {
    this.#writer = writer;
    this.#mask = options.mask;
    this.#limit = options.backpressureLimit;
    this.#events = events;
    if (options.deflate !== null) {
      this.#deflate = new OutboundDeflate(options.deflate, {
        frame: (opcode, payload, fin, rsv1) => this.#queueFrame(opcode, payload, fin, rsv1),
        raw: (bytes) => this.#queueEncoded(bytes, bytes.buffer),
      });
    }
  }

  /** Bytes handed to the sender that the socket has not taken yet (compression's included). */
  get bufferedAmount(): number {
    return this.#batchLength + this.#sharedLength + this.#bytesInFlight +
      (this.#deflate === null ? 0 : this.#deflate.pendingBytes);
  }

  /** When bytes were last handed to the socket (ms since the epoch; the handshake's time before any). */
  get lastSentAt(): number {
    return this.#lastSentAt;
  }

  /** Whether the buffer is over the backpressure limit. */
  get isOverLimit(): boolean {
    return this.bufferedAmount > this.#limit;
  }

  /**
   * Queues a text or binary message, compressed when permessage-deflate was negotiated, the
   * message is large enough, and `compress` is true. `owned` says the bytes are the library's own
   * (an encoded string): compression then reads them later without a copy.
   */
  sendMessage(opcode: number, payload: Uint8Array, owned: boolean, compress: boolean): SendStatus {
    if (this.bufferedAmount > this.#limit) return "dropped";
    if (this.#deflate === null || !this.#deflate.offer(opcode, payload, compress, owned)) {
      this.#queueFrame(opcode, payload, true, false);
    }
    return this.#statusAfterQueueing();
  }

  /**
   * Queues a ping or pong, within the limit like a message: a peer that pings without reading
   * gets no more pongs than the buffer allows.
   */
  sendControl(opcode: number, payload: Uint8Array): SendStatus {
    if (this.bufferedAmount > this.#limit) return "dropped";
    this.#queueFrame(opcode, payload, true, false);
    return this.#statusAfterQueueing();
  }

  /**
   * Queues a frame encoded once for many connections (a published message). Its bytes are shared
   * and never modified: a small one is copied into the batch, a large one written by reference.
   * `buffer` is `frame.buffer`, which the caller reads once for all its subscribers.
   */
  sendEncoded(frame: Uint8Array, buffer: ArrayBufferLike = frame.buffer): SendStatus {
    if (this.bufferedAmount > this.#limit) return "dropped";
    if (this.#deflate === null || !this.#deflate.holdRaw(frame)) this.#queueEncoded(frame, buffer);
    return this.#statusAfterQueueing();
  }

  /** Queues a close frame, whatever the limit, and writes it with everything before it now. */
  sendClose(payload: Uint8Array): void {
    this.#queueFrame(Opcode.Close, payload, true, false);
    this.#flush();
  }

  /**
   * Sends everything queued so far (behind any compression still running), then takes no more
   * frames. Resolves once the socket has taken it all, or the sender stopped.
   */
  end(): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        this.#ended = true;
        this.#flush();
        this.drained().then(resolve);
      };
      if (this.#ended || this.#deflate === null || !this.#deflate.holdCall(finish)) finish();
    });
  }

  /** Resolves when everything sent so far has been taken by the socket, or the sender stopped. */
  drained(): Promise<void> {
    if (this.bufferedAmount === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** The socket is gone: whatever is queued is dropped, and waiters are woken. */
  stop(): void {
    this.#ended = true;
    this.#deflate?.stop();
    if (this.#batch !== null) returnWriteBuffer(this.#batch); // never handed to the writer
    this.#batch = null;
    this.#batchLength = 0;
    this.#clearShared();
    this.#flushWhenWritten = false;
    this.#writesInFlight.length = 0;
    this.#bytesInFlight = 0;
    for (const wake of this.#drainWaiters.splice(0)) wake();
  }

  #statusAfterQueueing(): SendStatus {
    if (this.bufferedAmount <= this.#limit) return "sent";
    this.#needsDrain = true;
    return "backpressure";
  }

  #queueFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean): void {
    if (this.#ended) return;
    // Behind a message still being compressed, frames wait their turn.
    if (this.#deflate !== null && this.#deflate.hold(opcode, payload, fin)) return;
    const mask = this.#mask ? randomMask() : null;
    const size = frameHeaderLength(payload.length, mask !== null) + payload.length;
    const firstByte = firstHeaderByte(fin, rsv1, opcode);
    if (size > BATCH_FRAME_LIMIT) {
      // Large frames get their own buffer (written after whatever is batched before them).
      this.#flush();
      const frame = unzeroedBytes(size);
      writeFrame(frame, 0, firstByte, payload, mask);
      this.#write(frame);
      return;
    }
    const batch = this.#reserveBatch(size);
    this.#batchLength = writeFrame(batch, this.#batchLength, firstByte, payload, mask);
  }

  /**
   * A small shared frame joins the shared slice when nothing else is queued and it lies right
   * after the slice's end. Otherwise, a slice of 16 KiB or more is written and the frame starts
   * the next one; a smaller slice and the frame are copied into this connection's batch: copying a
   * few hundred bytes costs far less than a socket write of its own, and it lets many publishes
   * reach a subscriber in one write. A large frame is written by reference, never copied.
   */
  #queueEncoded(frame: Uint8Array, buffer: ArrayBufferLike): void {
    if (this.#ended) return;
    if (frame.length > BATCH_FRAME_LIMIT) {
      this.#flush();
      this.#write(frame);
      return;
    }
    if (this.#batch === null) {
      const shared = this.#shared;
      if (shared !== null) {
        if (
          buffer === this.#sharedBuffer &&
          frame.byteOffset === shared.byteOffset + this.#sharedLength &&
          this.#sharedLength + frame.length <= WRITE_BUFFER_SIZE
        ) {
          this.#sharedLength += frame.length;
          return;
        }
        // A large slice goes out by reference, and this frame starts the next one: one more
        // write costs less than copying the slice (and, with a thousand subscribers, allocating
        // a large buffer for each) when the arena moves to a new buffer in the middle of a turn.
        if (this.#sharedLength >= SHARED_SLICE_WRITE_MIN) this.#flush();
      }
      if (this.#shared === null) {
        this.#shared = frame;
        this.#sharedLength = frame.length;
        this.#sharedBuffer = buffer;
        this.#scheduleFlush();
        return;
      }
    }
    const batch = this.#reserveBatch(frame.length);
    batch.set(frame, this.#batchLength);
    this.#batchLength += frame.length;
  }

  /**
   * The batch, with room for `size` more bytes at #batchLength (a full batch is flushed first),
   * and a flush scheduled for the end of the current task.
   */
  #reserveBatch(size: number): Uint8Array {
    if (this.#shared !== null) this.#copySharedIntoBatch(size);
    let batch = this.#batch;
    const needed = this.#batchLength + size;
    if (batch === null) {
      batch = takeWriteBuffer(size);
    } else if (needed > batch.length) {
      if (needed <= WRITE_BUFFER_SIZE) {
        // Outgrew its buffer: move what is there into the next size up.
        const larger = takeWriteBuffer(needed);
        larger.set(batch.subarray(0, this.#batchLength));
        returnWriteBuffer(batch);
        batch = larger;
      } else {
        this.#flush();
        batch = takeWriteBuffer(size);
      }
    }
    this.#batch = batch;
    this.#scheduleFlush();
    return batch;
  }

  /** Something else is queued behind the shared slice: the slice goes first, as a copy. */
  #copySharedIntoBatch(room: number): void {
    const slice = this.#takeSharedSlice();
    const batch = takeWriteBuffer(Math.min(WRITE_BUFFER_SIZE, slice.length + room));
    batch.set(slice);
    this.#batch = batch;
    this.#batchLength = slice.length;
  }

  /** The shared slice as one view of its buffer (its first frame when alone); then none is left. */
  #takeSharedSlice(): Uint8Array {
    const first = this.#shared!;
    const length = this.#sharedLength;
    const slice = length === first.length
      ? first
      : new Uint8Array(this.#sharedBuffer!, first.byteOffset, length);
    this.#clearShared();
    return slice;
  }

  #clearShared(): void {
    this.#shared = null;
    this.#sharedLength = 0;
    this.#sharedBuffer = null;
  }

  #scheduleFlush(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushBound ??= () => this.#flushAtEndOfTurn());
    }
  }

  /**
   * The end of a turn: the batch goes out now, unless a write is still in flight. Then it keeps
   * growing and goes out when that write is done. Under load (writes that stay in flight, as
   * Deno's do, and many connections) this keeps writes few and large: otherwise a broadcast
   * to hundreds of subscribers that arrives one message per turn costs one socket write per
   * subscriber per message, the writes pile up, and throughput collapses.
   */
  #flushAtEndOfTurn(): void {
    this.#flushScheduled = false;
    if (this.#writesInFlight.length > 0) {
      this.#flushWhenWritten = true;
      return;
    }
    this.#flush();
  }

  /** Hands the batch to the socket as one write, now (behind any write in flight). */
  #flush(): void {
    this.#flushScheduled = false;
    this.#flushWhenWritten = false;
    if (this.#shared !== null) {
      // Only shared frames are queued (anything after them would have copied them into the
      // batch): they go out as one slice of the buffer they share.
      this.#write(this.#takeSharedSlice());
      return;
    }
    const batch = this.#batch;
    if (batch === null || this.#batchLength === 0) return;
    const length = this.#batchLength;
    // The writer holds the bytes until the socket takes them; the buffer goes back to the pool
    // then (#onWritten), and the next batch takes another.
    this.#batch = null;
    this.#batchLength = 0;
    this.#write(batch.subarray(0, length));
  }

  #write(bytes: Uint8Array): void {
    this.#lastSentAt = Date.now();
    this.#writesInFlight.push(bytes);
    this.#bytesInFlight += bytes.length;
    this.#writer.write(bytes).then(
      this.#onWrittenBound ??= () => this.#onWritten(),
      this.#onWriteFailedBound ??= () => this.#events.onWriteFailed(),
    );
  }

  #onWritten(): void {
    const written = this.#writesInFlight.shift();
    if (written !== undefined) {
      this.#bytesInFlight -= written.length;
      returnWriteBuffer(written);
    }
    if (this.#flushWhenWritten && this.#writesInFlight.length === 0) this.#flush();
    if (this.bufferedAmount > 0) return;
    if (this.#drainWaiters.length > 0) { for (const wake of this.#drainWaiters.splice(0)) wake(); }
    if (this.#needsDrain) {
      this.#needsDrain = false;
      this.#events.onDrain();
    }
  }
}

// Masks for client frames come from a pool of random bytes, refilled 4 KiB at a time, so a
// client does not call into the random number generator for every frame.
const MASK_POOL_SIZE = 4096;
const maskPool = new Uint8Array(MASK_POOL_SIZE);
let maskPoolOffset = MASK_POOL_SIZE;

function randomMask(): Uint8Array {
  if (maskPoolOffset === MASK_POOL_SIZE) {
    crypto.getRandomValues(maskPool);
    maskPoolOffset = 0;
  }
  const mask = maskPool.subarray(maskPoolOffset, maskPoolOffset + 4);
  maskPoolOffset += 4;
  return mask;
}

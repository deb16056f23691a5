/**
 * permessage-deflate (RFC 7692) for one connection: an inbound chain that inflates compressed
 * messages and keeps every later event behind them, and an outbound chain that compresses
 * messages and keeps every later frame behind them. Both use `node:zlib` streams (available on
 * Deno and Bun alike); a zlib stream answers asynchronously, so each chain is a queue worked by
 * one async loop. Nothing here exists for a connection without the extension: the uncompressed
 * path pays one null check.
 *
 * Where a side starts every message afresh (no context takeover), a message of moderate size
 * that nothing waits in front of is (de)compressed synchronously with a one-shot zlib call
 * instead: no stream, no queue and no round trip, and no context kept between messages. That is
 * most messages of most connections, and several times faster (see bench/RESULTS.md).
 * @module
 */

import * as zlib from "node:zlib";
import { concatBytes } from "../protocol/bytes.ts";
import { type CloseDecision, closeFor } from "../protocol/close_causes.ts";
import { Opcode } from "../protocol/opcodes.ts";
import { STRICT_UTF8, strictUtf8 } from "../protocol/utf8.ts";
import type { ReceiverHandler } from "../protocol/receiver.ts";
import type { DeflateAgreement } from "../handshake/permessage_deflate.ts";
import { SerialQueue } from "./serial_queue.ts";

/** The four bytes a sync flush ends with; stripped when sending, put back when inflating. */
const TRAILER = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
/** An empty compressed message: one empty stored block, as the trailer leaves it (§7.2.3.6). */
const EMPTY_DEFLATED = new Uint8Array([0x00]);
const Z_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;
/** zlib hands out output in chunks of this size (its default is 16 KiB). */
const CHUNK_SIZE = 64 * 1024;
/**
 * Messages up to this size (compressed, when inflating; plain, when deflating) take the
 * synchronous path; larger ones go through the stream, which yields to other connections.
 */
const SYNC_INPUT_LIMIT = 64 * 1024;
/**
 * The most a synchronous inflate may produce: a message that would inflate to more is inflated
 * again through the stream (or refused, when that is over maxPayload too), so no single call
 * blocks the event loop for long, whatever the compression ratio.
 */
const SYNC_OUTPUT_LIMIT = 1024 * 1024;

type ZlibStream = zlib.InflateRaw | zlib.DeflateRaw;

/** Feeds `input` (a message's bytes, or nothing) to a zlib stream and waits for a sync flush. */
function writeAndFlush(stream: ZlibStream, input: Uint8Array | null): Promise<void> {
  return new Promise((resolve) => {
    if (input !== null && input.length > 0) stream.write(input);
    stream.flush(Z_SYNC_FLUSH, () => resolve());
  });
}

/** A zlib Buffer as a plain Uint8Array over the same memory. */
function plain(chunk: Uint8Array): Uint8Array {
  return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Removes the sync flush's trailer from compressed output (RFC 7692 §7.2.1). */
function withoutTrailer(out: Uint8Array): Uint8Array {
  const length = out.length;
  if (
    length >= 4 && out[length - 4] === 0 && out[length - 3] === 0 &&
    out[length - 2] === 0xff && out[length - 1] === 0xff
  ) {
    out = out.subarray(0, length - 4);
  }
  return out.length === 0 ? EMPTY_DEFLATED : out;
}

// ------------------------------------------------------------------------------- receiving

type InboundTask =
  | { frame: Uint8Array; opcode: number; fin: boolean }
  | { call: () => void };

/**
 * Inflates compressed messages as their frames arrive and delivers them in order: a message or
 * a close frame that arrives after a compressed message waits until it has been delivered. Pings
 * are answered at once. The inflated size is counted while inflating, and the message is
 * refused with 1009 as soon as it passes `maxPayload`, so a small "deflate bomb" never expands in
 * memory; inflated text is validated as UTF-8 as it comes out (1007).
 */
export class InboundDeflate {
  readonly #handler: ReceiverHandler;
  readonly #maxPayload: number;
  readonly #resetEachMessage: boolean;
  /** For inflated text, which comes out in pieces; created with the first text message. */
  #decoder: TextDecoder | null = null;
  #inflater: zlib.InflateRaw | null = null;
  readonly #queue = new SerialQueue<InboundTask>((task) => this.#runTask(task));
  #stopped = false;
  /** Compressed bytes queued and not yet inflated. */
  #backlog = 0;
  #backlogWaiters: Array<() => void> = [];

  // The message being inflated.
  #opcode = 0;
  #length = 0;
  #binary: Uint8Array[] = [];
  #text: string[] = [];
  /** Set by the data listener when the message broke a rule; the message is abandoned. */
  #failure: CloseDecision | null = null;
  /** Wakes the task waiting on the current flush (also when the inflater fails). */
  #wake: (() => void) | null = null;

  /** `handler` is the connection's receiver handler; `maxPayload` limits inflated messages. */
  constructor(agreement: DeflateAgreement, maxPayload: number, handler: ReceiverHandler) {
    this.#handler = handler;
    this.#maxPayload = maxPayload;
    this.#resetEachMessage = agreement.receiveNoContextTakeover;
  }

  /** Compressed bytes received and not inflated yet; reading pauses while it is large. */
  get backlog(): number {
    return this.#backlog;
  }

  /** Resolves once the backlog is at most `limit` bytes (or the chain stopped). */
  backlogBelow(limit: number): Promise<void> {
    if (this.#backlog <= limit || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.#backlog <= limit || this.#stopped) resolve();
        else this.#backlogWaiters.push(check);
      };
      this.#backlogWaiters.push(check);
    });
  }

  /** The receiver handler to give the {@link Receiver}: `handler` with events kept in order. */
  receiverHandler(): ReceiverHandler {
    const handler = this.#handler;
    return {
      onMessage: (data, size) => {
        if (this.#queue.running) this.#queue.push({ call: () => handler.onMessage(data, size) });
        else handler.onMessage(data, size);
      },
      onPing: (payload) => handler.onPing(payload),
      onPong: (payload) => handler.onPong(payload),
      onClose: (code, reason) => {
        if (this.#queue.running) this.#queue.push({ call: () => handler.onClose(code, reason) });
        else handler.onClose(code, reason);
      },
      onProtocolError: (decision) => this.#failNow(decision),
      onCompressedFrame: (opcode, payload, fin) => {
        if (
          fin && this.#resetEachMessage && this.#opcode === 0 && !this.#queue.running &&
          payload.length <= SYNC_INPUT_LIMIT && this.#inflateWhole(opcode, payload)
        ) {
          return;
        }
        this.#backlog += payload.length;
        this.#queue.push({ frame: payload, opcode, fin });
      },
    };
  }

  /** Drops whatever is queued and frees the inflater. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#queue.stop();
    this.#backlog = 0;
    this.#binary = [];
    this.#text = [];
    this.#inflater?.close();
    this.#inflater = null;
    this.#wake?.();
    for (const wake of this.#backlogWaiters.splice(0)) wake();
  }

  #runTask(task: InboundTask): void | Promise<void> {
    if ("call" in task) return task.call();
    return this.#inflateFrame(task.frame, task.opcode, task.fin).then(() => {
      this.#backlog -= task.frame.length;
      if (this.#backlogWaiters.length > 0) {
        for (const wake of this.#backlogWaiters.splice(0)) wake();
      }
    });
  }

  /**
   * Inflates a whole message at once and delivers it (the peer resets its context for every
   * message, so nothing carries over). False when it would inflate past the synchronous limit
   * but not past maxPayload: the stream then takes it.
   */
  #inflateWhole(opcode: number, payload: Uint8Array): boolean {
    const limit = Math.min(this.#maxPayload, SYNC_OUTPUT_LIMIT);
    let inflated: Uint8Array;
    try {
      inflated = plain(zlib.inflateRawSync(concatBytes([payload, TRAILER]), {
        finishFlush: Z_SYNC_FLUSH,
        maxOutputLength: Math.max(1, limit),
      }));
    } catch (error) {
      if (error instanceof RangeError) {
        // Over the limit: zlib stops there, so a bomb never expands further.
        if (limit < this.#maxPayload) return false;
        this.#failNow(closeFor("message-too-big", this.#maxPayload));
      } else {
        // zlib's words ("invalid block type", ...) go with the reason: they say what was wrong.
        this.#failNow(closeFor("invalid-compressed-data", 0, (error as Error).message));
      }
      return true;
    }
    let message: string | Uint8Array = inflated;
    if (opcode === Opcode.Text) {
      try {
        message = strictUtf8.decode(inflated);
      } catch {
        this.#failNow(closeFor("invalid-utf8"));
        return true;
      }
    }
    this.#handler.onMessage(message, inflated.length);
    return true;
  }

  #failNow(decision: CloseDecision): void {
    this.stop();
    this.#handler.onProtocolError(decision);
  }

  #createInflater(): zlib.InflateRaw {
    const inflater = zlib.createInflateRaw({ windowBits: 15, chunkSize: CHUNK_SIZE });
    inflater.on("data", (chunk: Uint8Array) => this.#onInflated(chunk));
    inflater.on("error", (error: Error) => {
      // zlib's words ("invalid block type", ...) go with the reason: they say what was wrong.
      this.#failure ??= closeFor("invalid-compressed-data", 0, error.message);
      this.#inflater = null;
      this.#wake?.();
    });
    return inflater;
  }

  async #inflateFrame(frame: Uint8Array, opcode: number, fin: boolean): Promise<void> {
    if (this.#opcode === 0) {
      this.#opcode = opcode;
      this.#length = 0;
    }
    const inflater = this.#inflater ??= this.#createInflater();
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      if (frame.length > 0) inflater.write(frame);
      if (fin) inflater.write(TRAILER);
      inflater.flush(Z_SYNC_FLUSH, () => resolve());
    });
    this.#wake = null;
    if (this.#stopped) return;
    if (this.#failure !== null) {
      this.#failNow(this.#failure);
      return;
    }
    if (!fin) return;
    let message: string | Uint8Array;
    if (this.#opcode === Opcode.Text) {
      try {
        const tail = this.#decoder?.decode() ?? "";
        if (tail.length > 0) this.#text.push(tail);
      } catch {
        this.#failNow(closeFor("invalid-utf8"));
        return;
      }
      message = this.#text.length === 1 ? this.#text[0] : this.#text.join("");
      this.#text = [];
    } else {
      message = concatBytes(this.#binary, this.#length);
      this.#binary = [];
    }
    const size = this.#length;
    this.#opcode = 0;
    this.#length = 0;
    if (this.#resetEachMessage) {
      // The peer starts every message afresh: nothing to keep, so no inflater to keep either.
      this.#inflater.close();
      this.#inflater = null;
    }
    this.#handler.onMessage(message, size);
  }

  #onInflated(chunk: Uint8Array): void {
    if (this.#failure !== null || this.#stopped) return;
    this.#length += chunk.length;
    if (this.#length > this.#maxPayload) {
      this.#failure = closeFor("message-too-big", this.#maxPayload);
      // Stop inflating now: the rest of a bomb is never expanded.
      this.#inflater?.close();
      this.#inflater = null;
      this.#wake?.();
      return;
    }
    if (this.#opcode === Opcode.Text) {
      try {
        this.#decoder ??= new TextDecoder("utf-8", STRICT_UTF8);
        const text = this.#decoder.decode(chunk, { stream: true });
        if (text.length > 0) this.#text.push(text);
      } catch {
        this.#failure = closeFor("invalid-utf8");
        this.#inflater?.close();
        this.#inflater = null;
        this.#wake?.();
      }
    } else {
      this.#binary.push(plain(chunk));
    }
  }
}

// --------------------------------------------------------------------------------- sending

/** Where the outbound chain puts what it releases: the sender's frame queue. */
export interface DeflateOutput {
  /** Queues a frame (RSV1 set for a compressed message). */
  frame(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean): void;
  /** Queues bytes already encoded as a frame (a published message). */
  raw(bytes: Uint8Array): void;
}

type OutboundTask =
  | { compress: Uint8Array; opcode: number }
  | { frame: Uint8Array; opcode: number; fin: boolean }
  | { raw: Uint8Array }
  | { call: () => void };

/**
 * Compresses messages and releases frames in the order they were sent: while a compression is
 * pending, every later frame (other messages, pings, the close frame) waits behind it.
 */
export class OutboundDeflate {
  readonly #sink: DeflateOutput;
  readonly #agreement: DeflateAgreement;
  #deflater: zlib.DeflateRaw | null = null;
  #output: Uint8Array[] = [];
  #outputLength = 0;
  readonly #queue = new SerialQueue<OutboundTask>((task) => this.#runTask(task));
  /** True while the chain hands frames to the sink (which must then not hold them again). */
  #releasing = false;
  #stopped = false;
  #pendingBytes = 0;

  /** Creates the chain; frames go to `sink`. */
  constructor(agreement: DeflateAgreement, sink: DeflateOutput) {
    this.#agreement = agreement;
    this.#sink = sink;
  }

  /** Bytes waiting in the chain (message sizes before compression). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Takes a data message for compression when it qualifies (`compress` not false, at least
   * `threshold` bytes); returns false otherwise, and the caller sends it as usual. `owned` says
   * the bytes are the library's own (an encoded string), so they need no copy.
   */
  offer(opcode: number, payload: Uint8Array, compress: boolean, owned: boolean): boolean {
    if (!compress || payload.length < this.#agreement.threshold || this.#stopped) return false;
    if (
      this.#agreement.sendNoContextTakeover && !this.#queue.running &&
      payload.length <= SYNC_INPUT_LIMIT
    ) {
      const compressed = this.#compressWhole(payload);
      this.#release(() => this.#sink.frame(opcode, compressed, true, true));
      return true;
    }
    this.#pendingBytes += payload.length;
    // zlib reads the bytes later; the application may reuse its buffer as soon as send returns.
    this.#queue.push({ compress: owned ? payload : payload.slice(), opcode });
    return true;
  }

  /** True (and the frame is queued) when frames must wait behind a pending compression. */
  hold(opcode: number, payload: Uint8Array, fin: boolean): boolean {
    if (!this.#queue.running || this.#releasing) return false;
    this.#pendingBytes += payload.length;
    this.#queue.push({ frame: payload.slice(), opcode, fin });
    return true;
  }

  /** Like {@link hold}, for an already encoded (and shared, never modified) frame. */
  holdRaw(bytes: Uint8Array): boolean {
    if (!this.#queue.running || this.#releasing) return false;
    this.#pendingBytes += bytes.length;
    this.#queue.push({ raw: bytes });
    return true;
  }

  /** Like {@link hold}, for a step (closing the socket) that must wait behind the queue. */
  holdCall(fn: () => void): boolean {
    if (!this.#queue.running || this.#releasing || this.#stopped) return false;
    this.#queue.push({ call: fn });
    return true;
  }

  /** Drops the queue and frees the compressor. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#queue.stop();
    this.#pendingBytes = 0;
    this.#deflater?.close();
    this.#deflater = null;
  }

  #runTask(task: OutboundTask): void | Promise<void> {
    if ("compress" in task) {
      return this.#compress(task.compress).then((compressed) => {
        if (this.#stopped) return;
        this.#pendingBytes -= task.compress.length;
        this.#release(() => this.#sink.frame(task.opcode, compressed, true, true));
      });
    }
    if ("frame" in task) {
      this.#pendingBytes -= task.frame.length;
      this.#release(() => this.#sink.frame(task.opcode, task.frame, task.fin, false));
    } else if ("raw" in task) {
      this.#pendingBytes -= task.raw.length;
      this.#release(() => this.#sink.raw(task.raw));
    } else {
      this.#release(task.call);
    }
  }

  #release(fn: () => void): void {
    this.#releasing = true;
    try {
      fn();
    } finally {
      this.#releasing = false;
    }
  }

  #createDeflater(): zlib.DeflateRaw {
    const { level, memLevel, sendWindowBits } = this.#agreement;
    const deflater = zlib.createDeflateRaw({
      level,
      memLevel,
      windowBits: sendWindowBits,
      chunkSize: CHUNK_SIZE,
    });
    deflater.on("data", (chunk: Uint8Array) => {
      this.#output.push(plain(chunk));
      this.#outputLength += chunk.length;
    });
    deflater.on("error", () => {}); // cannot happen for in-memory input; never crash for it
    return deflater;
  }

  /** One message through the compressor; the sync flush's trailer removed (RFC 7692 §7.2.1). */
  async #compress(data: Uint8Array): Promise<Uint8Array> {
    const deflater = this.#deflater ??= this.#createDeflater();
    await writeAndFlush(deflater, data);
    const out = concatBytes(this.#output, this.#outputLength);
    const length = this.#outputLength;
    this.#output = [];
    this.#outputLength = 0;
    if (this.#agreement.sendNoContextTakeover && !this.#stopped) deflater.reset();
    return length === 0 ? EMPTY_DEFLATED : withoutTrailer(out);
  }

  /** One message compressed at once, with a context of its own (no context takeover only). */
  #compressWhole(data: Uint8Array): Uint8Array {
    const { level, memLevel, sendWindowBits } = this.#agreement;
    const out = zlib.deflateRawSync(data, {
      level,
      memLevel,
      windowBits: sendWindowBits,
      finishFlush: Z_SYNC_FLUSH,
    });
    return withoutTrailer(plain(out));
  }
}

/**
 * The receiving half of a connection: the sans-I/O {@link Receiver}, and permessage-deflate's
 * inflating chain behind it when the extension was negotiated. The connection pushes bytes in
 * and gets events out in order, compressed or not.
 * @module
 */

import { Receiver, type ReceiverHandler } from "../protocol/receiver.ts";
import type { DeflateAgreement } from "../handshake/permessage_deflate.ts";
import { InboundDeflate } from "./compression.ts";
import { unzeroedBytes } from "./unzeroed_bytes.ts";

/** With permessage-deflate, reading pauses while this many compressed bytes await inflating. */
const INFLATE_BACKLOG_LIMIT = 1024 * 1024;

/** What an {@link Inbound} checks. */
export interface InboundOptions {
  /** The server's role: frames must be masked. */
  expectMasked: boolean;
  /** Largest message, in bytes, after inflating. */
  maxPayload: number;
  /** Largest frame, in bytes. */
  maxFrameSize: number;
  /** Most frames in one message. */
  maxFragments: number;
  /** permessage-deflate as negotiated, or null. */
  deflate: DeflateAgreement | null;
}

/** Bytes in, events out, for one connection. */
export class Inbound {
  readonly #receiver: Receiver;
  readonly #inflate: InboundDeflate | null = null;

  /** Reports to `handler`, in the order the peer sent. */
  constructor(options: InboundOptions, handler: ReceiverHandler) {
    if (options.deflate !== null) {
      this.#inflate = new InboundDeflate(options.deflate, options.maxPayload, handler);
      handler = this.#inflate.receiverHandler();
    }
    this.#receiver = new Receiver(handler, {
      expectMasked: options.expectMasked,
      maxPayload: options.maxPayload,
      maxFrameSize: options.maxFrameSize,
      maxFragments: options.maxFragments,
      perMessageDeflate: options.deflate !== null,
      allocate: unzeroedBytes,
    });
  }

  /** Whether input is discarded: after a close frame, a failure, or {@link stop}. */
  get stopped(): boolean {
    return this.#receiver.stopped;
  }

  /**
   * Feeds a chunk from the peer. Chunks from a transport are the reader's to keep (see
   * `Transport.readable`), so large payloads are handed on as views of them, without a copy.
   */
  push(chunk: Uint8Array): void {
    if (!this.#receiver.stopped) this.#receiver.push(chunk, true);
  }

  /**
   * Null when reading may go on; otherwise a promise to wait for first: inflating has fallen
   * behind, and reading more would only queue compressed bytes in memory.
   */
  backlog(): Promise<void> | null {
    const inflate = this.#inflate;
    if (inflate === null || inflate.backlog <= INFLATE_BACKLOG_LIMIT) return null;
    return inflate.backlogBelow(INFLATE_BACKLOG_LIMIT);
  }

  /** Discards all further input and frees the inflater. */
  stop(): void {
    this.#receiver.stop();
    this.#inflate?.stop();
  }
}

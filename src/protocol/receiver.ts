/**
 * The receiving half of the protocol, sans I/O: bytes in, messages and control events out. It
 * applies every rule RFC 6455 sets on what a peer sends (masking, reserved bits and opcodes,
 * control frames, fragmentation, UTF-8, close payloads) and the size limits, and maps each
 * failure to its close code in one place. After a failure or a close frame it reads nothing more.
 * @module
 */

import { concatBytes } from "./bytes.ts";
import { type CloseCause, type CloseDecision, closeFor } from "./close_causes.ts";
import { parseClosePayload } from "./close_frame.ts";
import { FrameParser, type FrameSink } from "./frame_parser.ts";
import { isControlOpcode, isKnownOpcode, Opcode } from "./opcodes.ts";
import { STRICT_UTF8, strictUtf8 } from "./utf8.ts";

/** What the receiver reports. The connection layer implements it. */
export interface ReceiverHandler {
  /** A complete text (string) or binary (Uint8Array) message of `size` bytes (text: UTF-8). */
  onMessage(data: string | Uint8Array, size: number): void;
  /** A ping; the connection answers it with a pong carrying the same payload. */
  onPing(payload: Uint8Array): void;
  /** A pong, solicited or not. */
  onPong(payload: Uint8Array): void;
  /** A valid close frame; 1005 when it carried no code. Nothing is read after it. */
  onClose(code: number, reason: string): void;
  /** The peer broke a rule or a limit; close as decided. Nothing is read after it. */
  onProtocolError(decision: CloseDecision): void;
  /**
   * A frame of a compressed message (permessage-deflate), still compressed: `opcode` is the
   * message's (text or binary), `fin` marks its last frame. Only with `perMessageDeflate`.
   */
  onCompressedFrame?(opcode: number, payload: Uint8Array, fin: boolean): void;
}

/** Limits and role for a {@link Receiver}. */
export interface ReceiverOptions {
  /** True on the server: client frames must be masked. False on the client: server frames must not. */
  expectMasked: boolean;
  /** Largest message accepted, in bytes, summed across fragments. */
  maxPayload: number;
  /** Largest single frame accepted, in bytes. Defaults to `maxPayload`. */
  maxFrameSize?: number;
  /** Most fragments (frames) one message may have. */
  maxFragments: number;
  /**
   * permessage-deflate was negotiated: RSV1 on a message's first frame marks it compressed, and
   * its frames go to `onCompressedFrame`. Without it, RSV1 is a protocol error (1002).
   */
  perMessageDeflate?: boolean;
  /**
   * Allocates the buffer of a frame that spans chunks, as for `FrameParser`: the I/O layer may
   * give memory that is not zeroed. Defaults to `new Uint8Array(size)`.
   */
  allocate?: (size: number) => Uint8Array;
}

/** Turns a byte stream from the peer into messages and control events. */
export class Receiver implements FrameSink {
  readonly #handler: ReceiverHandler;
  readonly #expectMasked: boolean;
  readonly #maxPayload: number;
  readonly #maxFrameSize: number;
  readonly #maxFragments: number;
  readonly #perMessageDeflate: boolean;
  /**
   * How many bytes more than `maxPayload` a compressed message may take on the wire: data that
   * does not compress grows a little (stored blocks). Its inflated size is checked separately.
   */
  readonly #compressedSlack: number;
  readonly #parser: FrameParser;
  /**
   * Validates and decodes text as it arrives; the streaming mode fails on the first bad byte.
   * ignoreBOM: a leading U+FEFF is part of the message and must be delivered, not stripped.
   */
  #streamDecoder: TextDecoder | null = null;

  // The frame being read.
  #frameOpcode = 0;
  #frameFin = false;
  /** Bytes of the current text frame already run through the decoder (frames spanning chunks). */
  #frameDecoded = 0;
  /** The current frame belongs to a compressed message. */
  #frameCompressed = false;
  #messageCompressed = false;

  // The fragmented message being assembled; #messageOpcode is 0 when none is.
  #messageOpcode = 0;
  #messageLength = 0;
  #fragments = 0;
  #binaryParts: Uint8Array[] | null = null;
  #textParts: string[] | null = null;

  /** Creates a receiver reporting to `handler`. */
  constructor(handler: ReceiverHandler, options: ReceiverOptions) {
    this.#handler = handler;
    this.#expectMasked = options.expectMasked;
    this.#maxPayload = options.maxPayload;
    this.#maxFrameSize = options.maxFrameSize ?? options.maxPayload;
    this.#maxFragments = options.maxFragments;
    this.#perMessageDeflate = options.perMessageDeflate ?? false;
    this.#compressedSlack = Math.floor(this.#maxPayload / 1024) + 64;
    this.#parser = new FrameParser(this, options.allocate);
  }

  /** Whether the receiver has stopped reading (after a close frame or a protocol error). */
  get stopped(): boolean {
    return this.#parser.stopped;
  }

  /**
   * Feeds bytes received from the peer. `owned` says the caller will not reuse the chunk's
   * memory, so large payloads may be delivered as views into it (see FrameParser.push).
   */
  push(chunk: Uint8Array, owned = false): void {
    this.#parser.push(chunk, owned);
  }

  /** Stops reading and drops any partial message. */
  stop(): void {
    this.#parser.stop();
    this.#binaryParts = null;
    this.#textParts = null;
  }

  /** @internal Part of {@link FrameSink}. */
  onFrameHeader(
    fin: boolean,
    rsv: number,
    opcode: number,
    masked: boolean,
    length: number,
  ): boolean {
    let compressed = false;
    if (rsv !== 0) {
      if (rsv !== 4 || !this.#perMessageDeflate) {
        return this.#fail("reserved-bits");
      }
      if (opcode === Opcode.Continuation) {
        return this.#fail("rsv1-on-continuation");
      }
      if (isControlOpcode(opcode)) {
        return this.#fail("compressed-control-frame");
      }
      compressed = opcode === Opcode.Text || opcode === Opcode.Binary;
    }
    if (!isKnownOpcode(opcode)) {
      return this.#fail("reserved-opcode", opcode);
    }
    if (masked !== this.#expectMasked) {
      return this.#fail(masked ? "masked-server-frame" : "unmasked-client-frame");
    }
    if (isControlOpcode(opcode)) {
      if (!fin) return this.#fail("fragmented-control-frame");
      if (length > 125) return this.#fail("oversized-control-frame");
    } else if (opcode === Opcode.Continuation) {
      if (this.#messageOpcode === 0) {
        return this.#fail("orphan-continuation");
      }
      if (++this.#fragments > this.#maxFragments) {
        return this.#fail("too-many-fragments", this.#maxFragments);
      }
    } else if (this.#messageOpcode !== 0) {
      return this.#fail("interleaved-message");
    }
    if (opcode === Opcode.Continuation) compressed = this.#messageCompressed;
    // A compressed message's inflated size is checked while inflating; its wire size may be a
    // little over the limits.
    const slack = compressed ? this.#compressedSlack : 0;
    // Control frames are bounded by the 125-byte rule above, not by the message limits.
    if (!isControlOpcode(opcode) && length > this.#maxFrameSize + slack) {
      return this.#fail("frame-too-big", this.#maxFrameSize);
    }
    if (!isControlOpcode(opcode) && this.#messageLength + length > this.#maxPayload + slack) {
      return this.#fail("message-too-big", this.#maxPayload);
    }
    this.#frameOpcode = opcode;
    this.#frameFin = fin;
    this.#frameDecoded = 0;
    if (!isControlOpcode(opcode)) this.#frameCompressed = compressed;
    return true;
  }

  /** @internal Part of {@link FrameSink}. */
  onFramePart(payload: Uint8Array, received: number): boolean {
    // Text is checked as it arrives so that a bad byte ends the connection at once, not when the
    // (possibly huge, possibly never finished) frame is complete.
    if (!this.#frameCompressed && this.#isTextFrame()) {
      if (!this.#decodeText(payload.subarray(this.#frameDecoded, received), true)) return false;
      this.#frameDecoded = received;
    }
    return true;
  }

  /** @internal Part of {@link FrameSink}. */
  onFrame(payload: Uint8Array): boolean {
    const opcode = this.#frameOpcode;
    if (isControlOpcode(opcode)) return this.#onControlFrame(opcode, payload);
    if (this.#frameCompressed) return this.#onCompressedFrame(opcode, payload);

    if (opcode !== Opcode.Continuation && this.#frameFin && this.#frameDecoded === 0) {
      // An unfragmented message that arrived whole: the fast path, no assembly.
      if (opcode === Opcode.Binary) {
        this.#handler.onMessage(payload, payload.length);
        return !this.#parser.stopped;
      }
      let text: string;
      try {
        text = strictUtf8.decode(payload);
      } catch {
        return this.#fail("invalid-utf8");
      }
      this.#handler.onMessage(text, payload.length);
      return !this.#parser.stopped;
    }

    if (opcode !== Opcode.Continuation) {
      this.#messageOpcode = opcode;
      this.#fragments = 1;
    }
    this.#messageLength += payload.length;
    if (this.#messageOpcode === Opcode.Text) {
      const rest = this.#frameDecoded === 0 ? payload : payload.subarray(this.#frameDecoded);
      if (!this.#decodeText(rest, !this.#frameFin)) return false;
    } else if (payload.length > 0) {
      (this.#binaryParts ??= []).push(payload);
    }
    if (!this.#frameFin) return true;

    const message = this.#messageOpcode === Opcode.Text
      ? (this.#textParts?.join("") ?? "")
      : concatBytes(this.#binaryParts ?? [], this.#messageLength);
    const size = this.#messageLength;
    this.#messageOpcode = 0;
    this.#messageLength = 0;
    this.#fragments = 0;
    this.#binaryParts = null;
    this.#textParts = null;
    this.#handler.onMessage(message, size);
    return !this.#parser.stopped;
  }

  #onCompressedFrame(opcode: number, payload: Uint8Array): boolean {
    if (opcode !== Opcode.Continuation) {
      this.#messageOpcode = opcode;
      this.#fragments = 1;
      this.#messageCompressed = true;
    }
    this.#messageLength += payload.length;
    const messageOpcode = this.#messageOpcode;
    const fin = this.#frameFin;
    if (fin) {
      this.#messageOpcode = 0;
      this.#messageLength = 0;
      this.#fragments = 0;
      this.#messageCompressed = false;
    }
    this.#handler.onCompressedFrame?.(messageOpcode, payload, fin);
    return !this.#parser.stopped;
  }

  /** @internal Part of {@link FrameSink}. */
  onMalformedHeader(cause: CloseCause): void {
    this.#fail(cause);
  }

  #onControlFrame(opcode: number, payload: Uint8Array): boolean {
    if (opcode === Opcode.Ping) {
      this.#handler.onPing(payload);
    } else if (opcode === Opcode.Pong) {
      this.#handler.onPong(payload);
    } else {
      const close = parseClosePayload(payload);
      if (!close.ok) return this.#failWith(close.failure);
      this.stop();
      this.#handler.onClose(close.code, close.reason);
      return false;
    }
    return !this.#parser.stopped;
  }

  #isTextFrame(): boolean {
    return this.#frameOpcode === Opcode.Text ||
      (this.#frameOpcode === Opcode.Continuation && this.#messageOpcode === Opcode.Text);
  }

  /** Runs text through the streaming decoder; `more` is false for the message's last bytes. */
  #decodeText(bytes: Uint8Array, more: boolean): boolean {
    try {
      // Created on the first fragmented or partly received text message: an idle connection,
      // or one that only gets whole messages, never needs one.
      this.#streamDecoder ??= new TextDecoder("utf-8", STRICT_UTF8);
      const text = this.#streamDecoder.decode(bytes, { stream: more });
      if (text.length > 0) (this.#textParts ??= []).push(text);
      return true;
    } catch {
      return this.#fail("invalid-utf8");
    }
  }

  #fail(cause: CloseCause, detail?: number): false {
    return this.#failWith(closeFor(cause, detail));
  }

  #failWith(decision: CloseDecision): false {
    this.stop();
    this.#handler.onProtocolError(decision);
    return false;
  }
}

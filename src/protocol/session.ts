/**
 * The closing handshake of one WebSocket, sans I/O (RFC 6455 §5.5.1, §7): which close frame to
 * send, when, whether to answer the peer's, who closes TCP and when, and how the connection is
 * reported when it ends. Every step returns what the caller must do as data: the close frame to
 * send (if any) and the next step for the socket. The connection layer performs it; this file
 * has no I/O, no timers and no clock.
 * @module
 */

import { EMPTY_BYTES } from "./bytes.ts";
import type { CloseDecision } from "./close_causes.ts";
import { CloseCode } from "./close_codes.ts";
import { encodeClosePayload } from "./close_frame.ts";

/** The states a WebSocket goes through once its opening handshake is done (WHATWG numbering). */
export const SessionState = {
  /** Messages can be sent and received. */
  Open: 1,
  /** A close frame has been sent or received; the handshake is finishing. */
  Closing: 2,
  /** The socket is closed. */
  Closed: 3,
} as const;

/** One of the {@link SessionState} values. */
export type SessionState = typeof SessionState[keyof typeof SessionState];

/**
 * What the socket must do after a step, each bounded by the close timeout:
 * - `"none"`: nothing changes;
 * - `"await-close-frame"`: our close frame is out; wait for the peer's, then follow its step;
 * - `"close-socket"`: write what is queued, close our side of TCP and wait for the peer's;
 * - `"await-socket-close"`: a client after the closing handshake waits for the server to close
 *   TCP first (RFC 6455 §7.1.1), so that the server, not the client, holds TIME_WAIT;
 * - `"drop-socket"`: close the socket now, without writing anything more.
 */
export type SocketStep =
  | "none"
  | "await-close-frame"
  | "close-socket"
  | "await-socket-close"
  | "drop-socket";

/** What the caller must do after a step of the {@link Session}. */
export interface SessionStep {
  /** The payload of a close frame to send now, or null when none is due. */
  readonly closeFrame: Uint8Array | null;
  /** What to do with the socket. */
  readonly socket: SocketStep;
}

/** How a connection ended. */
export interface CloseInfo {
  /**
   * The close code: the peer's (or 1005 when its close frame had none) after a closing
   * handshake, the code this end sent after a protocol error, 1006 when the connection dropped.
   */
  code: number;
  /** The close reason that went with the code. */
  reason: string;
  /** True when both close frames were exchanged before the socket closed. */
  wasClean: boolean;
}

const NOTHING: SessionStep = { closeFrame: null, socket: "none" };

/** The closing-handshake state of one connection, on either end. */
export class Session {
  readonly #role: "server" | "client";
  #state: SessionState = SessionState.Open;
  #closeSent = false;
  #closeReceived: { code: number; reason: string } | null = null;
  #failure: CloseDecision | null = null;

  /** A session for the `role` end, open. */
  constructor(role: "server" | "client") {
    this.#role = role;
  }

  /** The current state. */
  get state(): SessionState {
    return this.#state;
  }

  /** Whether data frames may be sent, and received messages delivered: only while open. */
  get isOpen(): boolean {
    return this.#state === SessionState.Open;
  }

  /** Whether a close frame has gone out: after it, nothing else may be sent, not even a pong. */
  get closeSent(): boolean {
    return this.#closeSent;
  }

  /** Why this end failed the connection, if it did. */
  get failure(): CloseDecision | null {
    return this.#failure;
  }

  /**
   * The application closes: a close frame with `code` and `reason` (an empty one without a
   * code), then wait for the peer's. Throws a RangeError for a code or reason that may not be
   * sent, even when closing has already begun (a programming error is reported where it is made).
   */
  close(code?: number, reason?: string): SessionStep {
    const payload = encodeClosePayload(code, reason);
    if (this.#state !== SessionState.Open) return NOTHING;
    this.#state = SessionState.Closing;
    this.#closeSent = true;
    return { closeFrame: payload, socket: "await-close-frame" };
  }

  /**
   * The peer's close frame arrived. If ours has not gone out, it is the answer, echoing the
   * peer's code (an empty close is answered with an empty one). Then the server closes TCP; the
   * client waits for the server to do it.
   */
  receiveClose(code: number, reason: string): SessionStep {
    if (this.#state === SessionState.Closed) return NOTHING;
    this.#closeReceived = { code, reason };
    this.#state = SessionState.Closing;
    let closeFrame: Uint8Array | null = null;
    if (!this.#closeSent) {
      this.#closeSent = true;
      closeFrame = code === CloseCode.NoStatusReceived ? EMPTY_BYTES : encodeClosePayload(code);
    }
    return { closeFrame, socket: this.#role === "server" ? "close-socket" : "await-socket-close" };
  }

  /**
   * _Fail the WebSocket Connection_ (RFC 6455 §7.1.7): send a close frame with the decision's
   * code (unless one went out already), then close the socket. The first failure is the one
   * reported.
   */
  fail(decision: CloseDecision): SessionStep {
    if (this.#state === SessionState.Closed) return NOTHING;
    this.#failure ??= decision;
    this.#state = SessionState.Closing;
    if (this.#closeSent) return { closeFrame: null, socket: "close-socket" };
    this.#closeSent = true;
    return {
      closeFrame: encodeClosePayload(decision.code, decision.reason),
      socket: "close-socket",
    };
  }

  /**
   * Gives up on the peer without a close frame (it is not reading, so one would only wait behind
   * unsent bytes): the socket is dropped and the connection reported with the decision's code.
   */
  abandon(decision: CloseDecision): SessionStep {
    if (this.#state === SessionState.Closed) return NOTHING;
    this.#failure ??= decision;
    return { closeFrame: null, socket: "drop-socket" };
  }

  /**
   * The socket is closed, by either side or by a timeout. Returns how the connection ended, or
   * null when it had already ended.
   */
  socketClosed(): CloseInfo | null {
    if (this.#state === SessionState.Closed) return null;
    this.#state = SessionState.Closed;
    return this.closeInfo;
  }

  /**
   * How the connection ended (or would, if the socket closed now): this end's failure, else the
   * peer's close frame (clean: both close frames were exchanged), else 1006.
   */
  get closeInfo(): CloseInfo {
    const failure = this.#failure;
    if (failure !== null) return { code: failure.code, reason: failure.reason, wasClean: false };
    // The peer's close frame always gets ours in answer (unless ours went first): both were
    // exchanged.
    const received = this.#closeReceived;
    if (received !== null) return { ...received, wasClean: true };
    return { code: CloseCode.AbnormalClosure, reason: "", wasClean: false };
  }
}

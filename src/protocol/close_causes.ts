/**
 * Every reason this library closes a connection on its own, as a stable cause string, mapped to
 * its close code and the reason sent in the close frame, in one table. Whoever detects a problem
 * (the receiver, the inflater, the liveness timers, the sender's limit) names a cause; nothing
 * else decides a code.
 * @module
 */

import { CloseCode } from "./close_codes.ts";

/** A reason, or a reason that takes one number (a limit, an opcode, a code). */
type ReasonText = string | ((detail: number) => string);

/** Cause → close code and reason. The keys are stable: tests and logs may rely on them. */
const CAUSES = {
  // 1002: the peer broke the protocol.
  "reserved-bits": [CloseCode.ProtocolError, "reserved bits set without an extension"],
  "rsv1-on-continuation": [CloseCode.ProtocolError, "RSV1 set on a continuation frame"],
  "compressed-control-frame": [CloseCode.ProtocolError, "compressed control frame"],
  "reserved-opcode": [CloseCode.ProtocolError, (opcode: number) => `reserved opcode ${opcode}`],
  "masked-server-frame": [CloseCode.ProtocolError, "server frames must not be masked"],
  "unmasked-client-frame": [CloseCode.ProtocolError, "client frames must be masked"],
  "fragmented-control-frame": [CloseCode.ProtocolError, "fragmented control frame"],
  "oversized-control-frame": [CloseCode.ProtocolError, "control frame over 125 bytes"],
  "orphan-continuation": [
    CloseCode.ProtocolError,
    "continuation frame without a message to continue",
  ],
  "interleaved-message": [
    CloseCode.ProtocolError,
    "new message started before the previous one ended",
  ],
  "invalid-length": [
    CloseCode.ProtocolError,
    "64-bit payload length with the most significant bit set",
  ],
  "one-byte-close-payload": [CloseCode.ProtocolError, "close payload of 1 byte"],
  "invalid-close-code": [CloseCode.ProtocolError, (code: number) => `invalid close code ${code}`],
  // 1007: data that is not what its type says.
  "invalid-utf8": [CloseCode.InvalidPayload, "text message is not valid UTF-8"],
  "invalid-close-reason": [CloseCode.InvalidPayload, "close reason is not UTF-8"],
  "invalid-compressed-data": [CloseCode.InvalidPayload, "invalid compressed data"],
  // 1009: over a limit.
  "too-many-fragments": [
    CloseCode.MessageTooBig,
    (limit: number) => `message has more than ${limit} fragments`,
  ],
  "frame-too-big": [CloseCode.MessageTooBig, (limit: number) => `frame exceeds ${limit} bytes`],
  "message-too-big": [
    CloseCode.MessageTooBig,
    (limit: number) => `message exceeds ${limit} bytes`,
  ],
  // This end's policies and timers.
  "send-buffer-limit": [CloseCode.PolicyViolation, "send buffer limit exceeded"],
  "rate-limit": [CloseCode.PolicyViolation, "rate limit exceeded"],
  "idle-timeout": [CloseCode.GoingAway, "idle timeout"],
  "heartbeat-timeout": [CloseCode.InternalError, "heartbeat timeout"],
  // An application callback threw: 1011 without details, which are the application's business.
  "handler-error": [CloseCode.InternalError, "internal error"],
} as const satisfies Record<string, readonly [number, ReasonText]>;

/** Why this end closed a connection; see {@link closeFor}. */
export type CloseCause = keyof typeof CAUSES;

/** A decision to close: the cause, and the code and reason that go in the close frame. */
export interface CloseDecision {
  /** The stable cause. */
  readonly cause: CloseCause;
  /** The close code for the cause. */
  readonly code: number;
  /** The close reason: the cause in words, with its detail. At most 123 bytes. */
  readonly reason: string;
}

/**
 * The close code and reason for `cause`; `detail` fills in the reasons that name a number.
 * `note` (from a library that reported the problem, say) is appended to the reason, cut to fit.
 */
export function closeFor(cause: CloseCause, detail = 0, note?: string): CloseDecision {
  const [code, text] = CAUSES[cause] as readonly [number, ReasonText];
  let reason = typeof text === "string" ? text : text(detail);
  if (note !== undefined && note !== "") reason = fitReason(`${reason}: ${note}`);
  return { cause, code, reason };
}

/** The causes and their codes, for tests and documentation. */
export function closeCauses(): Array<{ cause: CloseCause; code: number }> {
  return (Object.keys(CAUSES) as CloseCause[]).map((cause) => ({
    cause,
    code: CAUSES[cause][0],
  }));
}

/** A close reason fits in 123 UTF-8 bytes (RFC 6455 §5.5: 125 minus the code). */
function fitReason(reason: string): string {
  const encoded = new TextEncoder().encode(reason);
  if (encoded.length <= 123) return reason;
  // Cut on a character boundary: drop the bytes of a partial character at the end.
  let end = 123;
  while (end > 0 && (encoded[end] & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(encoded.subarray(0, end));
}

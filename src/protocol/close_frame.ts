/**
 * The payload of a close frame (RFC 6455 §5.5.1): nothing, or a 2-byte status code followed by a
 * UTF-8 reason, at most 125 bytes in all.
 * @module
 */

import { type CloseDecision, closeFor } from "./close_causes.ts";
import { CloseCode, isValidCloseCode } from "./close_codes.ts";
import { strictUtf8 } from "./utf8.ts";

/** A control frame payload is at most 125 bytes; the code takes 2 of them. */
export const MAX_CLOSE_REASON_BYTES = 123;

const encoder = new TextEncoder();

/** What a received close payload says, or why it breaks the protocol. */
export type ParsedClose =
  | { ok: true; code: number; reason: string }
  | { ok: false; failure: CloseDecision };

/**
 * Reads a received close payload. An empty payload means "no status" (1005). A 1-byte payload or
 * a code that may not appear on the wire is a protocol error (1002); a reason that is not UTF-8 is
 * 1007.
 */
export function parseClosePayload(payload: Uint8Array): ParsedClose {
  if (payload.length === 0) return { ok: true, code: CloseCode.NoStatusReceived, reason: "" };
  if (payload.length === 1) {
    return { ok: false, failure: closeFor("one-byte-close-payload") };
  }
  const code = (payload[0] << 8) | payload[1];
  if (!isValidCloseCode(code)) {
    return { ok: false, failure: closeFor("invalid-close-code", code) };
  }
  try {
    return { ok: true, code, reason: strictUtf8.decode(payload.subarray(2)) };
  } catch {
    return { ok: false, failure: closeFor("invalid-close-reason") };
  }
}

/**
 * Builds a close payload to send. Without a code the payload is empty (the peer then reports
 * 1005). Throws a RangeError for a code that may not be sent or a reason over 123 UTF-8 bytes:
 * those are programming errors, reported where they are made.
 */
export function encodeClosePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined) {
    if (reason !== "") throw new RangeError("a close reason needs a close code");
    return new Uint8Array(0);
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new RangeError(
      `close code ${code} may not be sent (use 1000, 1001–1003, 1007–1014, 3000–4999)`,
    );
  }
  const reasonBytes = encoder.encode(reason);
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`close reason is ${reasonBytes.length} bytes; at most 123 are allowed`);
  }
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

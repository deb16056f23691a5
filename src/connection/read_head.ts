/**
 * Reading an HTTP head off a stream: until the blank line, across as many reads as it takes,
 * within a size limit. Shared by the server (requests) and the client (responses).
 * @module
 */

import { concatBytes } from "../protocol/bytes.ts";
import { findHeadEnd, type HttpError } from "../handshake/http_head.ts";

/** A head's bytes (ending with the blank line) and whatever arrived after it. */
export interface ReceivedHead {
  /** The head, blank line included. */
  head: Uint8Array;
  /** Bytes after the head: the start of the first frame, or of a body. */
  rest: Uint8Array;
}

/**
 * Reads until `\r\n\r\n`. Returns the head and the bytes after it; an HttpError with 431 when
 * more than `maxBytes` arrive without the head ending, or `notHttp` when `isPlausible` rejects the
 * bytes so far; null when the stream ends first (the caller's timeout cancels the reader to get
 * here).
 */
export async function readHead(
  reader: { read(): Promise<ReadableStreamReadResult<Uint8Array>> },
  maxBytes: number,
  isPlausible: (bytesSoFar: Uint8Array) => boolean,
  notHttp: HttpError,
): Promise<ReceivedHead | HttpError | null> {
  let buffer: Uint8Array = new Uint8Array(0);
  while (true) {
    const next = await reader.read().catch(() => null);
    if (next === null || next.done) return null;
    const searchFrom = buffer.length - 3;
    // A chunk is the reader's to keep (see Transport.readable): the first is used as it is.
    buffer = concatBytes([buffer, next.value]);
    const end = findHeadEnd(buffer, searchFrom);
    if (end === -1 ? buffer.length > maxBytes : end > maxBytes) {
      return { status: 431, message: "Header section too large" };
    }
    if (end !== -1) return { head: buffer.subarray(0, end), rest: buffer.subarray(end) };
    if (!isPlausible(buffer)) return notHttp;
  }
}

/**
 * A chunked HTTP/1.1 body (RFC 9112 §7.1), decoded from the bytes received so far: what the
 * client reads of a refusal's body to put in its error. Pure: bytes in, data out.
 * @module
 */

import { concatBytes } from "../protocol/bytes.ts";
import { latin1 } from "./http_head.ts";

/** The data of the complete chunks in `bytes`, and whether the last chunk (size 0) has come. */
export function decodeChunks(
  bytes: Uint8Array,
): { data: Uint8Array; length: number; complete: boolean } {
  const parts: Uint8Array[] = [];
  let length = 0;
  let at = 0;
  while (true) {
    let lineEnd = at;
    while (lineEnd + 1 < bytes.length && !(bytes[lineEnd] === 13 && bytes[lineEnd + 1] === 10)) {
      lineEnd++;
    }
    if (lineEnd + 1 >= bytes.length) break; // the size line has not fully arrived
    const sizeLine = bytes.subarray(at, Math.min(lineEnd, at + 64));
    const sizeText = latin1(sizeLine, 0, sizeLine.length).split(";")[0].trim();
    const size = /^[0-9a-fA-F]{1,8}$/.test(sizeText) ? parseInt(sizeText, 16) : -1;
    // A malformed size line ends the body: there is nothing more to understand in it.
    if (size <= 0) return { data: concatBytes(parts, length), length, complete: true };
    const dataStart = lineEnd + 2;
    if (bytes.length < dataStart + size + 2) break; // the chunk has not fully arrived
    parts.push(bytes.subarray(dataStart, dataStart + size));
    length += size;
    at = dataStart + size + 2;
  }
  return { data: concatBytes(parts, length), length, complete: false };
}

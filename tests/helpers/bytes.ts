/**
 * Bytes for tests: hex and latin1 for readable assertions and failure messages, and joining byte
 * arrays.
 * @module
 */

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Lowercase hex of `data`, two digits a byte, joined with `separator` ("" or " "). */
export function hex(data: Uint8Array, separator = ""): string {
  const parts: string[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) parts[i] = HEX[data[i]];
  return parts.join(separator);
}

/** The byte arrays one after the other, in a new array. */
export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The bytes as a string of one character a byte (latin1): any byte shows, none is lost. */
export function latin1(data: Uint8Array): string {
  let out = "";
  for (let i = 0; i < data.length; i += 8192) {
    out += String.fromCharCode(...data.subarray(i, i + 8192));
  }
  return out;
}

/**
 * The XOR masking of RFC 6455 §5.3, shared by the parser (unmasking client frames) and the
 * encoder (masking frames a client sends).
 *
 * The work is done four bytes at a time through Uint32Array views, in place over the aligned
 * middle of the range, or in a scratch area between two native copies: either is several times
 * faster than XOR-ing byte by byte from one array into another.
 * @module
 */

// A 4-byte scratch area seen both as bytes and as one native-endian 32-bit word, to turn the
// rotated key into the word that lines up with an aligned position.
const keyBytes = new Uint8Array(4);
const keyWord = new Uint32Array(keyBytes.buffer);

/**
 * Below this many bytes, a plain byte loop wins: creating a Uint32Array view (and, on Bun, even
 * reading `.buffer`) costs more than XOR-ing a short payload byte by byte.
 */
const WORD_THRESHOLD = 256;

/**
 * XORs `bytes[start .. start + length)` with the mask, in place. `maskOffset` is how many payload
 * bytes of this frame came before `start`, so a payload that arrives in pieces is unmasked piece
 * by piece.
 */
export function maskInPlace(
  bytes: Uint8Array,
  start: number,
  length: number,
  mask: Uint8Array,
  maskOffset: number,
): void {
  let i = start;
  const end = start + length;
  if (length >= WORD_THRESHOLD) {
    // Bytes up to a 4-byte boundary of the underlying buffer, then whole words.
    const misalignment = (bytes.byteOffset + i) & 3;
    const head = misalignment === 0 ? 0 : 4 - misalignment;
    for (const stop = i + head; i < stop; i++) bytes[i] ^= mask[(maskOffset + i - start) & 3];
    const rotation = maskOffset + i - start;
    keyBytes[0] = mask[rotation & 3];
    keyBytes[1] = mask[(rotation + 1) & 3];
    keyBytes[2] = mask[(rotation + 2) & 3];
    keyBytes[3] = mask[(rotation + 3) & 3];
    const key = keyWord[0];
    const wordCount = (end - i) >>> 2;
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, wordCount);
    for (let w = 0; w < wordCount; w++) words[w] ^= key;
    i += wordCount * 4;
  }
  for (; i < end; i++) bytes[i] ^= mask[(maskOffset + i - start) & 3];
}

/**
 * The scratch area of {@link applyMask}: its own aligned buffer, with a word view made once. 64 KiB
 * (the largest socket read) plus room for the last, partial word.
 */
const SCRATCH_SIZE = 64 * 1024;
const scratchBytes = new Uint8Array(SCRATCH_SIZE + 4);
const scratchWords = new Uint32Array(scratchBytes.buffer);

/**
 * Writes `source[sourceStart .. sourceStart + length)` XOR the mask into `target` at
 * `targetStart`. `maskOffset` is how many payload bytes of this frame came before.
 *
 * Through a scratch area whose word view exists once: copy in, XOR whole words, copy out. Two
 * native copies cost less than making a word view of the target for each payload, which on Bun
 * (where a fresh array's `.buffer` has to be created when first asked for) showed as an eighth of a
 * 1 KiB echo.
 */
export function applyMask(
  source: Uint8Array,
  sourceStart: number,
  target: Uint8Array,
  targetStart: number,
  length: number,
  mask: Uint8Array,
  maskOffset: number,
): void {
  if (length < WORD_THRESHOLD) {
    // Short payloads (the common case): one pass, no views.
    for (let i = 0; i < length; i++) {
      target[targetStart + i] = source[sourceStart + i] ^ mask[(maskOffset + i) & 3];
    }
    return;
  }
  for (let done = 0; done < length; done += SCRATCH_SIZE) {
    const piece = Math.min(SCRATCH_SIZE, length - done);
    const from = sourceStart + done;
    scratchBytes.set(source.subarray(from, from + piece));
    const rotation = maskOffset + done;
    keyBytes[0] = mask[rotation & 3];
    keyBytes[1] = mask[(rotation + 1) & 3];
    keyBytes[2] = mask[(rotation + 2) & 3];
    keyBytes[3] = mask[(rotation + 3) & 3];
    const key = keyWord[0];
    // The last word may run past the piece into bytes that are not copied out.
    const wordCount = (piece + 3) >>> 2;
    for (let w = 0; w < wordCount; w++) scratchWords[w] ^= key;
    target.set(scratchBytes.subarray(0, piece), targetStart + done);
  }
}

/**
 * The XOR masking of RFC 6455 §5.3, shared by the parser (unmasking client frames) and the
 * encoder (masking frames a client sends).
 * @module
 */

/**
 * Writes `source[sourceStart .. sourceStart + length)` XOR the mask into `target` at
 * `targetStart`. `maskOffset` is how many payload bytes of this frame came before, so a payload
 * that arrives in pieces is unmasked piece by piece. `source` and `target` may be the same array
 * at the same offset (in-place).
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
  // Rotate the key so that index 0 lines up with this piece; the main loop then needs no modulo.
  const m0 = mask[maskOffset & 3];
  const m1 = mask[(maskOffset + 1) & 3];
  const m2 = mask[(maskOffset + 2) & 3];
  const m3 = mask[(maskOffset + 3) & 3];
  const whole = length & ~3;
  let i = 0;
  for (; i < whole; i += 4) {
    target[targetStart + i] = source[sourceStart + i] ^ m0;
    target[targetStart + i + 1] = source[sourceStart + i + 1] ^ m1;
    target[targetStart + i + 2] = source[sourceStart + i + 2] ^ m2;
    target[targetStart + i + 3] = source[sourceStart + i + 3] ^ m3;
  }
  if (i < length) target[targetStart + i] = source[sourceStart + i] ^ m0;
  if (i + 1 < length) target[targetStart + i + 1] = source[sourceStart + i + 1] ^ m1;
  if (i + 2 < length) target[targetStart + i + 2] = source[sourceStart + i + 2] ^ m2;
}

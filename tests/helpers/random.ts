/**
 * Reproducible "random" data for tests: a small seeded PRNG, so that splits and payloads are the
 * same on every run and every runtime.
 * @module
 */

/** A small deterministic PRNG (mulberry32): numbers in [0, 1) from `seed`. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` bytes filled from `seed`. */
export function randomBytes(length: number, seed: number): Uint8Array {
  const next = seeded(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256);
  return out;
}

/**
 * A small seeded PRNG (sfc32) for the fuzz tests, so every input can be rebuilt from the run's
 * seed and its iteration number.
 * @module
 */

import { hex } from "../helpers/bytes.ts";

/** A seeded random source. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** A generator for iteration `index` of the run seeded with `seed`. */
  constructor(seed: number, index = 0) {
    this.#a = seed >>> 0;
    this.#b = Math.imul(index ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
    this.#c = (index * 0x27d4eb2d + 0x165667b1) >>> 0;
    this.#d = 1;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p * 0x1_0000_0000;
  }

  /** One of the items. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 4) {
      const r = this.next();
      out[i] = r;
      if (i + 1 < length) out[i + 1] = r >>> 8;
      if (i + 2 < length) out[i + 2] = r >>> 16;
      if (i + 3 < length) out[i + 3] = r >>> 24;
    }
    return out;
  }
}

/** The run's seed: FUZZ_SEED when set, else a fresh one. */
export function fuzzSeed(value: string | undefined): number {
  if (value !== undefined && value !== "") {
    const seed = Number(value);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
      throw new Error(`FUZZ_SEED must be an integer in [0, 2^32): ${value}`);
    }
    return seed;
  }
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

/**
 * Splits `bytes` into chunks at random points: whole, at a few random cuts (most often), byte by
 * byte, or into small or mid-sized pieces; now and then an empty chunk (a read of zero bytes).
 */
export function randomChunks(rng: Rng, bytes: Uint8Array): Uint8Array[] {
  const mode = rng.int(16);
  const n = bytes.length;
  if (mode < 2 || n === 0) return [bytes];
  if (mode < 11) {
    const cuts: number[] = [];
    const count = rng.range(1, 4);
    for (let i = 0; i < count; i++) cuts.push(rng.int(n + 1));
    cuts.sort((a, b) => a - b);
    const out: Uint8Array[] = [];
    let at = 0;
    for (const cut of cuts) {
      out.push(bytes.subarray(at, cut));
      at = cut;
    }
    out.push(bytes.subarray(at));
    return out;
  }
  if (mode === 11 && n <= 256) {
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) out.push(bytes.subarray(i, i + 1));
    return out;
  }
  const maxPiece = mode < 14 ? 8 : mode === 14 ? 64 : 1024;
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < n) {
    const size = rng.chance(0.02) ? 0 : rng.range(1, maxPiece);
    out.push(bytes.subarray(at, Math.min(n, at + size)));
    at += size;
  }
  return out;
}

/** Hex for failure messages, cut short for long inputs. */
export function hexPreview(bytes: Uint8Array, max = 400): string {
  const shown = hex(bytes.subarray(0, max));
  return bytes.length > max ? `${shown}… (${bytes.length} bytes)` : shown;
}

// Deterministic test messages shared by the peers and the tests: compressible but not trivial.
// Sizes: 0 B, 1 KiB, 1 MiB, 16 MiB; each as text and as binary.
export const SIZES = [0, 1024, 1024 * 1024, 16 * 1024 * 1024];

const WORDS = [
  "alpha ",
  "beta ",
  "gamma ",
  "delta ",
  "epsilon ",
  "zeta ",
  "eta ",
  "théta ",
  "ιώτα ",
  "🙂 ",
];

/** Text of exactly `size` UTF-16 code units... no: of exactly `size` UTF-8 bytes. */
export function makeText(size, seed = 1) {
  let state = seed;
  const parts = [];
  let bytes = 0;
  const encoder = new TextEncoder();
  while (bytes < size) {
    state = (state * 1103515245 + 12345) >>> 0;
    const word = WORDS[state % WORDS.length];
    const length = encoder.encode(word).length;
    if (bytes + length > size) {
      parts.push("x".repeat(size - bytes));
      bytes = size;
    } else {
      parts.push(word);
      bytes += length;
    }
  }
  return parts.join("");
}

/** `size` bytes from a small alphabet with runs: roughly 3:1 compressible. */
export function makeBinary(size, seed = 7) {
  const out = new Uint8Array(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    out[i] = (state >>> 24) & 0x1f;
  }
  return out;
}

/** Cheap content fingerprint (FNV-1a over bytes) and length. */
export function fingerprint(data) {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data);
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i];
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${typeof data === "string" ? "text" : "binary"}:${bytes.length}:${hash.toString(16)}`;
}

/** The messages, in sending order. */
export function messages() {
  const list = [];
  for (const size of SIZES) {
    list.push(makeText(size));
    list.push(makeBinary(size));
  }
  return list;
}

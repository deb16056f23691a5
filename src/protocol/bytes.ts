/**
 * Byte-array helpers shared by every layer.
 * @module
 */

/** An empty byte array, for payloads that have none. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/**
 * `parts` joined into one array of `length` bytes (their total, computed when not given). A part
 * that holds every byte (the others being empty) is returned as it is, without a copy; callers
 * that need a copy of their own must make it.
 */
export function concatBytes(parts: readonly Uint8Array[], length?: number): Uint8Array {
  if (parts.length === 0) return EMPTY_BYTES;
  let total = length ?? 0;
  if (length === undefined) { for (const part of parts) total += part.length; }
  for (const part of parts) if (part.length === total) return part;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Does nothing: the handler for promises whose failure is expected and already dealt with. */
export function ignore(): void {}

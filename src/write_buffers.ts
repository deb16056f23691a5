/**
 * A pool of write buffers shared by all connections of the process. A connection packs the
 * frames of one turn of the event loop into a pooled buffer, hands it to the socket, and the
 * buffer comes back when the socket has taken it: busy connections allocate nothing per batch,
 * and idle ones hold no buffer at all.
 * @module
 */

/**
 * The size of a pooled buffer: the largest batch. Twice the largest read, so that the echoes of
 * everything one read brought in fit in one write.
 */
export const WRITE_BUFFER_SIZE = 128 * 1024;
/** Spare buffers kept (16 MiB); beyond this, returned buffers are left to the garbage collector. */
const MAX_SPARE = 128;

const spare: Uint8Array[] = [];
const pooled = new WeakSet<ArrayBufferLike>();

/** A buffer of WRITE_BUFFER_SIZE bytes, from the pool or new. */
export function takeWriteBuffer(): Uint8Array {
  const buffer = spare.pop();
  if (buffer !== undefined) return buffer;
  const fresh = new Uint8Array(WRITE_BUFFER_SIZE);
  pooled.add(fresh.buffer);
  return fresh;
}

/**
 * Gives back the buffer under `written` (a view into a pooled buffer, as handed to the socket)
 * once the socket has taken it. Views of other buffers are ignored, so callers may pass any
 * finished write.
 */
export function returnWriteBuffer(written: Uint8Array): void {
  if (!pooled.has(written.buffer) || spare.length >= MAX_SPARE) return;
  spare.push(new Uint8Array(written.buffer, 0, WRITE_BUFFER_SIZE));
}

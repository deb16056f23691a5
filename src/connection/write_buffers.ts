/**
 * A pool of write buffers shared by all connections of the process. A connection packs the
 * frames of one turn of the event loop into a pooled buffer, hands it to the socket, and the
 * buffer comes back when the socket has taken it: busy connections allocate nothing per batch,
 * and idle ones hold no buffer at all.
 *
 * Three sizes: most batches are small (a few messages, or a few published frames for each of a
 * thousand subscribers, all in flight at once), so a batch starts in the smallest buffer that
 * fits and moves up a size only when it outgrows it. (With one size of 128 KiB, a broadcast to a
 * thousand subscribers on Deno, whose writes stay in flight for a while, allocated and zeroed
 * 128 KiB per subscriber per turn.)
 * @module
 */

import { unzeroedBytes } from "./unzeroed_bytes.ts";

/**
 * The large size, and the largest batch: twice the largest read, so that the echoes of
 * everything one read brought in fit in one write.
 */
export const WRITE_BUFFER_SIZE = 128 * 1024;

interface SizeClass {
  size: number;
  /** Spare buffers kept; beyond this, returned buffers are left to the garbage collector. */
  maxSpare: number;
  spare: Uint8Array[];
}

/** Smallest first; the spare buffers kept come to 4 + 4 + 8 MiB at most. */
const SIZE_CLASSES: SizeClass[] = [
  { size: 4 * 1024, maxSpare: 1024, spare: [] },
  { size: 16 * 1024, maxSpare: 256, spare: [] },
  { size: WRITE_BUFFER_SIZE, maxSpare: 64, spare: [] },
];
const pooled = new WeakSet<ArrayBufferLike>();

function sizeClassFor(size: number): SizeClass {
  for (const sizeClass of SIZE_CLASSES) if (size <= sizeClass.size) return sizeClass;
  return SIZE_CLASSES[SIZE_CLASSES.length - 1];
}

/** A pooled buffer of at least `size` bytes (at most WRITE_BUFFER_SIZE). */
export function takeWriteBuffer(size: number): Uint8Array {
  const sizeClass = sizeClassFor(size);
  const buffer = sizeClass.spare.pop();
  if (buffer !== undefined) return buffer;
  // Not zeroed: only the bytes a batch writes are ever sent. Where the runtime can skip zeroing
  // (Bun can), a fresh 128 KiB buffer costs next to nothing, and a broadcast that outgrows the
  // spare buffers (a thousand subscribers' batches at once) spent a quarter of its time zeroing.
  const fresh = unzeroedBytes(sizeClass.size);
  pooled.add(fresh.buffer);
  return fresh;
}

/**
 * Gives back the buffer under `written` (a pooled buffer, or a view into one as handed to the
 * socket) once nothing uses it any more. Views of other buffers are ignored, so callers may pass
 * any finished write.
 */
export function returnWriteBuffer(written: Uint8Array): void {
  const buffer = written.buffer;
  if (!pooled.has(buffer)) return;
  const sizeClass = sizeClassFor(buffer.byteLength);
  if (sizeClass.spare.length < sizeClass.maxSpare) {
    sizeClass.spare.push(new Uint8Array(buffer, 0, sizeClass.size));
  }
}

/**
 * The queuing strategy of the Deno and Node adapters' writables.
 * @module
 */

/**
 * A queue that never tells the writer to wait. The sender counts what is in flight itself and
 * never looks at the writer's `ready` or `desiredSize`; with the default queue of one chunk, every
 * write would renew the writer's `ready` promise, which then waits for the next write. On a quiet
 * connection that is seconds, long enough for the garbage collector to promote the promise to its
 * old generation, where such promises pile up until a full collection.
 *
 * Bun keeps the default: there this queue made a chat-like load (10,000 connections, one message
 * a second each) cost more CPU and more latency, not less.
 */
export const WRITE_STRATEGY: QueuingStrategy<Uint8Array> = {
  highWaterMark: Number.POSITIVE_INFINITY,
};

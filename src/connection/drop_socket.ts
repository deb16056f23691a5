/**
 * Dropping a socket through its streams: aborting the writable side and cancelling the readable
 * side closes it at once, whatever state it is in.
 * @module
 */

import { ignore } from "../protocol/bytes.ts";

/**
 * The reason every drop gives. Shared because a drop without one makes the stream create an
 * `AbortError` DOMException, stack trace and all, which showed in the handshake profile.
 */
const DROPPED = new Error("edgews dropped the socket");

/** The side of a socket that can be cancelled: a stream or one of its readers. */
interface Cancellable {
  cancel(reason?: unknown): Promise<void>;
}

/** The side of a socket that can be aborted: a stream or its writer. */
interface Abortable {
  abort(reason?: unknown): Promise<void>;
}

/** Drops the socket behind `writable` and `readable` (either may be missing, not yet open). */
export function dropSocket(writable: Abortable | null, readable: Cancellable | null): void {
  writable?.abort(DROPPED).catch(ignore);
  readable?.cancel(DROPPED).catch(ignore);
}

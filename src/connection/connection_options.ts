/**
 * The limits and timers of one connection, their defaults, and why those defaults.
 * @module
 */

/** Limits and timers of one connection; servers and clients share them. */
export interface ConnectionOptions {
  /** Largest message accepted, summed across fragments; larger ones close with 1009. */
  maxPayload?: number;
  /** Most fragments one message may have; more close with 1009. */
  maxFragments?: number;
  /** How long to wait for the peer's close frame after sending ours, in ms. */
  closeTimeout?: number;
  /**
   * Most bytes buffered for sending. A message that finds the buffer over this is dropped (and
   * `send` says `"dropped"`), so a peer that does not read cannot grow the sender's memory.
   */
  backpressureLimit?: number;
  /** Close a connection whose send buffer is over `backpressureLimit` (1008) instead of dropping. */
  closeOnBackpressureLimit?: boolean;
  /** Largest single frame accepted, in bytes; larger ones close with 1009. */
  maxFrameSize?: number;
  /**
   * When nothing at all has arrived from the peer for this long (ms), close with 1001. 0 turns it
   * off.
   */
  idleTimeout?: number;
  /**
   * Halfway through `idleTimeout` of silence, send a ping, so that a live but quiet peer answers
   * and stays connected while a dead one is closed.
   */
  idlePing?: boolean;
  /**
   * Send a ping every this many ms; if nothing has arrived from the peer by the next one, it is
   * taken for dead: the connection is dropped and reported with 1011. 0 (the default) turns it off.
   */
  heartbeatInterval?: number;
  /** In the pull-style API, how many unread messages to queue before pausing reads. */
  messageQueueLength?: number;
}

/** The defaults of {@link ConnectionOptions}. */
export const DEFAULT_CONNECTION_OPTIONS: Readonly<Required<ConnectionOptions>> = {
  // 64 MiB: above Bun's 16 MiB and the conformance suite's largest message (16 MiB).
  maxPayload: 64 * 1024 * 1024,
  // The conformance suite sends 4 MiB in 64-byte fragments (65,536 of them); allow twice that.
  maxFragments: 131_072,
  closeTimeout: 10_000,
  // Bun's default; uWS uses 64 KiB. Large enough that a burst never drops, small enough to bound.
  backpressureLimit: 16 * 1024 * 1024,
  closeOnBackpressureLimit: false,
  maxFrameSize: 64 * 1024 * 1024,
  // Bun's and uWS's idle timeout, with Bun's pings when idle.
  idleTimeout: 120_000,
  idlePing: true,
  heartbeatInterval: 0,
  messageQueueLength: 16,
};

/** The connection options in `options` (server or client options), the rest from the defaults. */
export function resolveConnectionOptions(options: ConnectionOptions): Required<ConnectionOptions> {
  const defaults = DEFAULT_CONNECTION_OPTIONS;
  return {
    maxPayload: options.maxPayload ?? defaults.maxPayload,
    maxFragments: options.maxFragments ?? defaults.maxFragments,
    closeTimeout: options.closeTimeout ?? defaults.closeTimeout,
    backpressureLimit: options.backpressureLimit ?? defaults.backpressureLimit,
    closeOnBackpressureLimit: options.closeOnBackpressureLimit ?? defaults.closeOnBackpressureLimit,
    maxFrameSize: options.maxFrameSize ?? defaults.maxFrameSize,
    idleTimeout: options.idleTimeout ?? defaults.idleTimeout,
    idlePing: options.idlePing ?? defaults.idlePing,
    heartbeatInterval: options.heartbeatInterval ?? defaults.heartbeatInterval,
    messageQueueLength: options.messageQueueLength ?? defaults.messageQueueLength,
  };
}

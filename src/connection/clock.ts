/**
 * Time and timers as one injectable object, so that the units that keep time (liveness) can be
 * tested exactly with a clock the test moves.
 * @module
 */

/** Time and timers, injectable so that tests can move time themselves. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; returns a handle for {@link clearTimer}. */
  setTimer(callback: () => void, ms: number): unknown;
  /** Cancels a timer set with {@link setTimer}; a handle already fired or undefined is ignored. */
  clearTimer(handle: unknown): void;
}

/** The runtime's clock and timers. */
export const systemClock: Clock = {
  now: Date.now,
  setTimer: (callback, ms) => setTimeout(callback, ms),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

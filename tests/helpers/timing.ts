/**
 * Waiting in tests, always with a deadline, so that a test fails with a message naming what it
 * waited for instead of hanging.
 * @module
 */

/** How long one step of a test may wait when it has no reason to choose, in ms. */
export const WAIT_MS = 30_000;

/** Settles as `promise` does; rejects, naming `what`, when it has not settled after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves once `condition()` holds, re-checking whenever something in `wakers` is called, and
 * also every 10 ms (for conditions on state that wakes no one); rejects after `ms`, naming
 * `what`, or when `condition()` throws.
 */
export function waitUntil(
  condition: () => boolean,
  ms: number,
  what: string,
  wakers?: Set<() => void>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      let ok: boolean;
      try {
        ok = condition();
      } catch (error) {
        return done(() => reject(error));
      }
      if (ok) done(resolve);
    };
    const poll = setInterval(check, 10);
    const deadline = setTimeout(
      () => done(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`))),
      ms,
    );
    const done = (settle: () => void) => {
      clearInterval(poll);
      clearTimeout(deadline);
      wakers?.delete(check);
      settle();
    };
    wakers?.add(check);
    check();
  });
}

/** Waits `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

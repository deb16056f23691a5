/**
 * A per-connection limit on incoming messages: token buckets over messages and bytes. One fast
 * client of a chat relays every message to every member, so its rate becomes the whole room's
 * load; the limit caps it where the messages arrive. Pure arithmetic on the time it is given.
 * @module
 */

/**
 * How much one connection may send (`serve({ rateLimit })`). Each limit is a token bucket: on
 * average `perSecond`, and at once up to its burst (what a client that was quiet has saved up).
 * At least one of `messagesPerSecond` and `bytesPerSecond` must be given.
 */
export interface RateLimit {
  /** Messages per second, on average. */
  messagesPerSecond?: number;
  /** Messages at once after a quiet spell (the bucket's size). Defaults to `messagesPerSecond`. */
  messageBurst?: number;
  /** Bytes of message payload per second, on average (after inflating, when compressed). */
  bytesPerSecond?: number;
  /**
   * Bytes at once (the bucket's size). Defaults to `bytesPerSecond`. A message larger than the
   * bucket still passes when the bucket is not empty; the debt it leaves holds back the next ones.
   */
  byteBurst?: number;
  /**
   * What happens to a message over the limit:
   * - `"drop"` (the default): it is not delivered; the handler's `rateLimited` callback gets it,
   *   and `ws.rateLimited` counts it. The connection stays open.
   * - `"close"`: the connection is closed with 1008 "rate limit exceeded".
   */
  exceeded?: "drop" | "close";
}

/** One token bucket: `perSecond` tokens a second, at most `capacity` saved up. */
class TokenBucket {
  readonly #perMs: number;
  readonly #capacity: number;
  #tokens: number;
  #updatedAt: number;

  constructor(perSecond: number, capacity: number, now: number) {
    this.#perMs = perSecond / 1000;
    this.#capacity = capacity;
    this.#tokens = capacity;
    this.#updatedAt = now;
  }

  /** The tokens there are at `now` (negative while in debt). */
  tokensAt(now: number): number {
    if (now > this.#updatedAt) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#updatedAt) * this.#perMs);
      this.#updatedAt = now;
    }
    return this.#tokens;
  }

  take(count: number): void {
    this.#tokens -= count;
  }
}

/** The limits of one connection. */
export class RateLimiter {
  readonly #messages: TokenBucket | null;
  readonly #bytes: TokenBucket | null;

  /** Full buckets at `now` (ms). */
  constructor(limit: RateLimit, now: number) {
    const { messagesPerSecond, bytesPerSecond } = limit;
    this.#messages = messagesPerSecond === undefined
      ? null
      : new TokenBucket(messagesPerSecond, limit.messageBurst ?? messagesPerSecond, now);
    this.#bytes = bytesPerSecond === undefined
      ? null
      : new TokenBucket(bytesPerSecond, limit.byteBurst ?? bytesPerSecond, now);
  }

  /**
   * Whether a message of `size` bytes arriving at `now` is within the limits; if it is, it is
   * counted. A message over the limit costs nothing, so a client that slows down gets through
   * again as soon as its buckets refill.
   */
  allow(size: number, now: number): boolean {
    const messages = this.#messages;
    const bytes = this.#bytes;
    if (messages !== null && messages.tokensAt(now) < 1) return false;
    if (bytes !== null && bytes.tokensAt(now) <= 0) return false;
    messages?.take(1);
    bytes?.take(size);
    return true;
  }
}

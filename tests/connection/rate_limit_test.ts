/** The rate limit's token buckets, on times the test gives: exact counts, no sleeps. */

import { test } from "node:test";
import assert from "node:assert/strict";
import { RateLimiter } from "../../src/connection/rate_limit.ts";

/** How many of `count` messages of `size` bytes, all at time `at`, pass. */
function passing(limiter: RateLimiter, count: number, size: number, at: number): number {
  let passed = 0;
  for (let i = 0; i < count; i++) if (limiter.allow(size, at)) passed++;
  return passed;
}

test("messages: the burst at once, then the rate", () => {
  const limiter = new RateLimiter({ messagesPerSecond: 10, messageBurst: 5 }, 0);
  assert.equal(passing(limiter, 100, 1, 0), 5, "the burst");
  assert.equal(passing(limiter, 100, 1, 99), 0, "not one token yet");
  assert.equal(passing(limiter, 100, 1, 100), 1, "one token per 100 ms");
  assert.equal(passing(limiter, 100, 1, 1100), 5, "refilled only up to the burst");
  assert.equal(passing(limiter, 100, 1, 1300), 2);
});

test("the burst defaults to one second's worth", () => {
  const limiter = new RateLimiter({ messagesPerSecond: 20 }, 0);
  assert.equal(passing(limiter, 100, 1, 0), 20);
  assert.equal(passing(limiter, 100, 1, 10_000), 20);
});

test("over a long flood, what passes is the burst plus the rate times the time", () => {
  const limiter = new RateLimiter({ messagesPerSecond: 50, messageBurst: 25 }, 0);
  let passed = 0;
  for (let at = 0; at <= 10_000; at++) passed += passing(limiter, 3, 1, at); // 3 per ms
  assert.equal(passed, 25 + 50 * 10);
});

test("bytes: a message passes while the bucket is not empty, and its debt holds the next back", () => {
  const limiter = new RateLimiter({ bytesPerSecond: 1000, byteBurst: 1000 }, 0);
  assert.equal(passing(limiter, 100, 100, 0), 10);
  const big = new RateLimiter({ bytesPerSecond: 1000, byteBurst: 1000 }, 0);
  assert.equal(big.allow(5000, 0), true, "larger than the bucket, but the bucket was full");
  assert.equal(big.allow(1, 3999), false, "4,000 bytes of debt take 4 s to repay");
  assert.equal(big.allow(1, 4001), true);
});

test("both limits: a message must pass each; a refused one costs nothing", () => {
  const limiter = new RateLimiter(
    { messagesPerSecond: 100, messageBurst: 100, bytesPerSecond: 1000, byteBurst: 1000 },
    0,
  );
  assert.equal(passing(limiter, 50, 100, 0), 10, "bytes run out first");
  assert.equal(passing(limiter, 1000, 0, 0), 0, "no bytes left: even empty messages wait");
  assert.equal(passing(limiter, 1, 100, 100), 1, "100 ms later: 100 bytes, and 10 messages");
});

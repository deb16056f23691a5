/**
 * The idle timeout, its ping and the heartbeat, timed exactly on a clock the test moves: each
 * promise of the README is pinned to the millisecond, with no sleeps.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Clock, Liveness, type LivenessOptions } from "../../src/connection/liveness.ts";

/** A clock whose time moves only when the test says so; timers fire in order. */
class ManualClock implements Clock {
  time = 1_000_000;
  #timers = new Map<number, { at: number; callback: () => void }>();
  #next = 1;

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let fired = 0;; fired++) {
      // A timer that keeps rescheduling itself without time passing would spin forever.
      if (fired > 10_000) throw new Error("timers keep firing without time passing");
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (due === undefined || entry[1].at < due[1].at)) due = entry;
      }
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = end;
  }

  get pending(): number {
    return this.#timers.size;
  }
}

/** Liveness on a manual clock, recording its events with the time since the start. */
function setUp(options: Partial<LivenessOptions>) {
  const clock = new ManualClock();
  const start = clock.time;
  const events: string[] = [];
  const liveness = new Liveness(
    { idleTimeout: 0, idlePing: true, heartbeatInterval: 0, ...options },
    {
      ping: () => events.push(`ping@${clock.time - start}`),
      idle: () => events.push(`idle@${clock.time - start}`),
      dead: () => events.push(`dead@${clock.time - start}`),
    },
    clock,
  );
  liveness.start();
  /** Moves to `at` ms after the start. */
  const to = (at: number) => clock.advance(start + at - clock.time);
  return { clock, events, liveness, to };
}

describe("idle timeout", () => {
  test("a silent peer is pinged at exactly half the timeout and closed at the timeout", () => {
    const { events, to } = setUp({ idleTimeout: 1000 });
    to(499);
    assert.deepEqual(events, []);
    to(500);
    assert.deepEqual(events, ["ping@500"]);
    to(999);
    assert.deepEqual(events, ["ping@500"], "one ping per silence");
    to(1000);
    assert.deepEqual(events, ["ping@500", "idle@1000"]);
    to(5000);
    assert.deepEqual(events, ["ping@500", "idle@1000"], "nothing after the close");
  });

  test("a peer that answers stays; silence is counted from what arrived last", () => {
    const { events, liveness, to } = setUp({ idleTimeout: 1000 });
    to(500);
    to(520);
    liveness.received(); // the pong
    to(1019);
    assert.deepEqual(events, ["ping@500"]);
    to(1020);
    assert.deepEqual(events, ["ping@500", "ping@1020"], "pinged again half a timeout later");
    to(1519);
    assert.deepEqual(events, ["ping@500", "ping@1020"]);
    to(1520);
    assert.deepEqual(events, ["ping@500", "ping@1020", "idle@1520"]);
  });

  test("traffic keeps a connection open with no pings at all", () => {
    const { events, liveness, to } = setUp({ idleTimeout: 1000 });
    for (let at = 100; at <= 10_000; at += 100) {
      to(at);
      liveness.received();
    }
    assert.deepEqual(events, []);
  });

  test("without idlePing: no ping, closed at exactly the timeout", () => {
    const { events, to } = setUp({ idleTimeout: 1000, idlePing: false });
    to(999);
    assert.deepEqual(events, []);
    to(1000);
    assert.deepEqual(events, ["idle@1000"]);
  });

  test("0 turns it off: no timer at all", () => {
    const { clock, events, to } = setUp({ idleTimeout: 0 });
    assert.equal(clock.pending, 0);
    to(1_000_000);
    assert.deepEqual(events, []);
  });
});

describe("heartbeat", () => {
  test("a ping every interval while the peer answers", () => {
    const { events, liveness, to } = setUp({ heartbeatInterval: 100 });
    for (let at = 100; at <= 500; at += 100) {
      to(at);
      assert.equal(events.at(-1), `ping@${at}`);
      to(at + 30);
      liveness.received();
    }
    assert.equal(events.length, 5);
    assert.ok(events.every((e) => e.startsWith("ping")));
  });

  test("a peer silent since the last ping is dead at the next one: within two intervals", () => {
    const { events, liveness, to } = setUp({ heartbeatInterval: 100 });
    to(100);
    to(150);
    liveness.received(); // the last sign of life
    to(200);
    assert.deepEqual(events, ["ping@100", "ping@200"]);
    to(299);
    assert.deepEqual(events, ["ping@100", "ping@200"]);
    to(300);
    assert.deepEqual(events, ["ping@100", "ping@200", "dead@300"]);
    to(1000);
    assert.equal(events.length, 3, "nothing after dead");
  });

  test("silent from the start: dead at the second interval", () => {
    const { events, to } = setUp({ heartbeatInterval: 250 });
    to(500);
    assert.deepEqual(events, ["ping@250", "dead@500"]);
  });
});

test("stop ends every timer", () => {
  const { clock, events, liveness, to } = setUp({ idleTimeout: 1000, heartbeatInterval: 100 });
  to(50);
  liveness.stop();
  to(10_000);
  assert.deepEqual(events, []);
  assert.equal(clock.pending, 0, "every timer cleared");
});

test("lastReceivedAt is the start, then the time of the last arrival", () => {
  const { clock, liveness, to } = setUp({});
  const start = clock.time;
  assert.equal(liveness.lastReceivedAt, start);
  to(1234);
  liveness.received();
  assert.equal(liveness.lastReceivedAt, start + 1234);
});

/**
 * Liveness of one connection: the idle timeout (with its ping halfway through) and the heartbeat.
 * Small and clock-driven, so its timing can be tested exactly with a clock the test moves.
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";

export type { Clock };

/** The timers, as in {@link ConnectionOptions}; 0 turns one off. */
export interface LivenessOptions {
  /** Close after this many ms in which nothing at all arrived. */
  idleTimeout: number;
  /** Ping once halfway through `idleTimeout` of silence. */
  idlePing: boolean;
  /** Ping every this many ms; a peer silent since the previous ping is dead. */
  heartbeatInterval: number;
}

/** What {@link Liveness} asks of its connection. */
export interface LivenessEvents {
  /** Send a ping: the idle ping, or a heartbeat. */
  ping(): void;
  /** Nothing has arrived for `idleTimeout`: close (1001). */
  idle(): void;
  /** Nothing has arrived since the last heartbeat ping: the peer is gone. */
  dead(): void;
}

/**
 * The liveness timers of one connection. The idle timer does not restart on every read (reads
 * are the hot path): it wakes when the connection could first be idle, looks at when bytes last
 * arrived, and sleeps again for the rest.
 */
export class Liveness {
  readonly #options: LivenessOptions;
  readonly #events: LivenessEvents;
  readonly #clock: Clock;
  #lastReceivedAt: number;
  #idleTimer: unknown = undefined;
  /** When the idle ping was sent; a ping is due again only after something has arrived. */
  #idlePingAt = 0;
  #heartbeatTimer: unknown = undefined;
  #awaitingHeartbeat = false;
  #stopped = false;
  readonly #idleCheckBound = () => this.#idleCheck();
  /** Created when a heartbeat is configured. */
  #heartbeatBound: (() => void) | null = null;

  /** Timers per `options`, reporting to `events`, on `clock`. Nothing runs until {@link start}. */
  constructor(options: LivenessOptions, events: LivenessEvents, clock: Clock = systemClock) {
    this.#options = options;
    this.#events = events;
    this.#clock = clock;
    this.#lastReceivedAt = clock.now();
  }

  /** When bytes last arrived from the peer (ms since the epoch; the start before any). */
  get lastReceivedAt(): number {
    return this.#lastReceivedAt;
  }

  /** Starts the timers; silence is counted from now. */
  start(): void {
    const { idleTimeout, idlePing, heartbeatInterval } = this.#options;
    this.#lastReceivedAt = this.#clock.now();
    if (idleTimeout > 0) {
      const first = idlePing ? idleTimeout / 2 : idleTimeout;
      this.#idleTimer = this.#clock.setTimer(this.#idleCheckBound, first);
    }
    if (heartbeatInterval > 0) {
      this.#heartbeatBound = () => this.#heartbeat();
      this.#heartbeatTimer = this.#clock.setTimer(this.#heartbeatBound, heartbeatInterval);
    }
  }

  /** Bytes arrived from the peer: it is alive. */
  received(): void {
    this.#lastReceivedAt = this.#clock.now();
    this.#awaitingHeartbeat = false;
  }

  /** Stops every timer for good. */
  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimer(this.#idleTimer);
    this.#clock.clearTimer(this.#heartbeatTimer);
  }

  #idleCheck(): void {
    if (this.#stopped) return;
    const { idleTimeout, idlePing } = this.#options;
    const now = this.#clock.now();
    const silent = now - this.#lastReceivedAt;
    if (silent >= idleTimeout) {
      this.#events.idle();
      return;
    }
    const pingAt = idleTimeout / 2;
    if (idlePing && silent >= pingAt && this.#idlePingAt <= this.#lastReceivedAt) {
      this.#idlePingAt = now;
      this.#events.ping();
    }
    const next = idlePing && silent < pingAt ? pingAt - silent : idleTimeout - silent;
    this.#idleTimer = this.#clock.setTimer(this.#idleCheckBound, next);
  }

  /**
   * Every interval: if nothing arrived since the last ping, the peer (or the path to it) is
   * gone; otherwise ping again. A dead peer is found between one and two intervals after it fell
   * silent.
   */
  #heartbeat(): void {
    if (this.#stopped) return;
    if (this.#awaitingHeartbeat) {
      this.#events.dead();
      return;
    }
    this.#awaitingHeartbeat = true;
    this.#events.ping();
    this.#heartbeatTimer = this.#clock.setTimer(
      this.#heartbeatBound!,
      this.#options.heartbeatInterval,
    );
  }
}

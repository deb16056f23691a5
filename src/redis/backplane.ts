/**
 * A {@link Backplane} over Redis pub/sub: each topic travels on its own channel, every instance
 * subscribes to the channels of the topics its connections follow, and publishes go out on a
 * second connection (a subscribed Redis connection cannot publish). Binary-safe: the server's
 * envelope travels as bytes and arrives byte for byte.
 *
 * Faults are the point of this file. Redis may be unreachable at start, die, restart empty, freeze,
 * or refuse the password: local delivery never waits for it, nothing is queued without bound,
 * subscriptions are restored on every reconnect, and the application hears of each outage and
 * recovery once (through `onEvent`), not once per retry.
 * @module
 */

import { Buffer } from "node:buffer";
import type { Backplane, BackplaneReceipt } from "../backplane.ts";
import {
  type LinkTiming,
  type RedisClient,
  type RedisClientOptions,
  type RedisFailure,
  RedisLink,
} from "./link.ts";

export type { RedisFailure };

/** Options for {@link RedisBackplane}. */
export interface RedisBackplaneOptions {
  /**
   * Where Redis is: `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS.
   * Defaults to `redis://127.0.0.1:6379`.
   */
  url?: string;
  /**
   * Prepended to a topic to name its Redis channel (topic `room` travels on `edgews:room`). The
   * instances of one application must agree on it; applications sharing a Redis must not.
   * Defaults to `"edgews:"`.
   */
  channelPrefix?: string;
  /**
   * Hears of the backplane's outages and recoveries, for the application's logs and metrics.
   * Each outage is reported once when it starts (and again only if its cause changes), and once
   * when it ends. Defaults to logging them with `console.error` / `console.info`.
   */
  onEvent?(event: RedisBackplaneEvent): void;
  /** Deadline in ms for one attempt to connect (TCP, TLS and AUTH together). Defaults to 2,000. */
  connectTimeout?: number;
  /**
   * Each connection sends a PING this often (ms); one unanswered for as long counts as an outage
   * and the connection is replaced. This catches a Redis that froze or a network path that went
   * silent, which no socket error would report. Defaults to 2,000.
   */
  healthCheckInterval?: number;
  /** First and longest delay between reconnect attempts, in ms. Defaults to 100 and 2,000. */
  reconnectDelay?: { min?: number; max?: number };
  /**
   * Most bytes of published messages handed to Redis and not yet acknowledged. Beyond it (Redis
   * slower than the publishers), publishes are dropped and counted instead of queued. Defaults
   * to 16 MiB.
   */
  maxPendingBytes?: number;
  /** The user to authenticate as (Redis ACLs), instead of one in the `url`. */
  username?: string;
  /** The password, instead of one in the `url` (so that the URL can be logged). */
  password?: string;
  /** TLS settings for a `rediss://` URL, e.g. a private CA. */
  tls?: RedisTlsOptions;
}

/** TLS settings for a `rediss://` connection. */
export interface RedisTlsOptions {
  /** Trusted CA certificates (PEM), instead of the system's. */
  ca?: string | string[];
  /** The name to verify the certificate against, when not the URL's host. */
  serverName?: string;
}

/** Something the application should know about the backplane. */
export type RedisBackplaneEvent =
  /** Both connections are up for the first time. */
  | { type: "up"; url: string }
  /**
   * The backplane cannot reach the other instances: Redis is down, unreachable, refuses the
   * credentials, or is not Redis. Local delivery goes on; publishes are dropped (and counted)
   * until it recovers, and it retries in the background.
   */
  | { type: "down"; url: string; cause: RedisFailure; error: Error }
  /**
   * Both connections are back and every subscription is restored. `dropped` publishes could not
   * reach the other instances during the outage, which lasted `downtimeMs`.
   */
  | { type: "recovered"; url: string; downtimeMs: number; dropped: number };

/** Where the backplane is. */
export type RedisBackplaneState = "connecting" | "up" | "down" | "closed";

/** Counters since the backplane was created. */
export interface RedisBackplaneStats {
  /** Messages handed to Redis. */
  published: number;
  /** Messages that could not be handed to Redis (no connection, or `maxPendingBytes` reached). */
  dropped: number;
  /** Messages received from Redis. */
  received: number;
  /** Received messages that were delivered to this instance's subscribers. */
  delivered: number;
  /** Received messages this instance had published itself (ignored). */
  own: number;
  /** Received messages that were not edgews envelopes (ignored). */
  invalid: number;
  /** Outages so far. */
  outages: number;
}

const DEFAULTS = {
  url: "redis://127.0.0.1:6379",
  channelPrefix: "edgews:",
  connectTimeout: 2_000,
  healthCheckInterval: 2_000,
  minReconnectDelay: 100,
  maxReconnectDelay: 2_000,
  maxPendingBytes: 16 * 1024 * 1024,
};

/** How long `close()` waits for publishes already sent to be acknowledged. */
const CLOSE_GRACE_MS = 1_000;

/**
 * Redis pub/sub as the {@link Backplane} of a server: `serve({ backplane: new RedisBackplane() })`
 * on every instance, with the same `url`.
 *
 * Delivery is what Redis pub/sub gives: at most once, in order per publishing instance, to the
 * instances subscribed at the time. While an instance cannot reach Redis, its publishes are
 * dropped and counted (`stats.dropped`, and the `recovered` event), never buffered: a buffer
 * would deliver stale messages late and out of time, and the other instances' subscribers miss
 * messages during the outage anyway. Applications that need catch-up keep a history (see the chat
 * example, which keeps one in a Redis stream).
 */
export class RedisBackplane implements Backplane {
  readonly #prefix: string;
  readonly #url: string;
  readonly #onEvent: (event: RedisBackplaneEvent) => void;
  readonly #maxPendingBytes: number;
  readonly #publisher: RedisLink;
  readonly #subscriber: RedisLink;
  #receive: ((topic: string, message: Uint8Array) => BackplaneReceipt) | null = null;

  /** Topics this instance listens to, with the listener that carries each topic's name. */
  readonly #topics = new Map<string, (message: Buffer) => void>();
  #subscriberClient: RedisClient | null = null;
  #publisherClient: RedisClient | null = null;
  #subscriberUp = false;
  #publisherUp = false;
  /** SUBSCRIBE/UNSUBSCRIBE commands sent and not yet answered. */
  #subscriptionsInFlight = 0;
  #settledWaiters: Array<() => void> = [];

  /** Publishes sent on the current publisher connection and not yet answered. */
  #pending = new PendingPublishes();

  #state: RedisBackplaneState = "connecting";
  #downSince = 0;
  #droppedAtDown = 0;
  #lastCause: RedisFailure | null = null;
  readonly #stats: RedisBackplaneStats = {
    published: 0,
    dropped: 0,
    received: 0,
    delivered: 0,
    own: 0,
    invalid: 0,
    outages: 0,
  };

  /** Connects in the background; the server can start (and serve locally) before Redis answers. */
  constructor(options: RedisBackplaneOptions = {}) {
    const url = options.url ?? DEFAULTS.url;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`RedisBackplane: url ${JSON.stringify(url)} is not a URL`);
    }
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
      throw new TypeError(
        `RedisBackplane: url must start with redis:// or rediss://, not ${parsed.protocol}//`,
      );
    }
    if (parsed.password !== "") parsed.password = "***";
    this.#url = parsed.href;
    this.#prefix = options.channelPrefix ?? DEFAULTS.channelPrefix;
    this.#onEvent = options.onEvent ?? logEvent;
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULTS.maxPendingBytes;
    const timing: LinkTiming = {
      connectTimeout: options.connectTimeout ?? DEFAULTS.connectTimeout,
      healthCheckInterval: options.healthCheckInterval ?? DEFAULTS.healthCheckInterval,
      minReconnectDelay: options.reconnectDelay?.min ?? DEFAULTS.minReconnectDelay,
      maxReconnectDelay: options.reconnectDelay?.max ?? DEFAULTS.maxReconnectDelay,
    };
    const clientOptions: RedisClientOptions = {
      url,
      username: options.username,
      password: options.password,
      socket: parsed.protocol === "rediss:"
        ? { tls: true, ca: options.tls?.ca, servername: options.tls?.serverName }
        : undefined,
    } as RedisClientOptions;
    this.#publisher = new RedisLink(clientOptions, timing, {
      up: (client) => {
        // A fresh count: the old connection's publishes fail as it goes, whenever they do.
        this.#pending = new PendingPublishes();
        this.#publisherClient = client;
        this.#publisherUp = true;
        this.#updateState();
      },
      down: (cause, error) => {
        this.#publisherClient = null;
        this.#publisherUp = false;
        this.#updateState(cause, error);
      },
    });
    this.#subscriber = new RedisLink(clientOptions, timing, {
      up: async (client) => {
        this.#subscriberClient = client;
        // Restore every subscription before counting as up (a fresh Redis knows none of them).
        await Promise.all(
          [...this.#topics].map(([topic, listener]) =>
            client.subscribe(this.#prefix + topic, listener, true)
          ),
        );
        this.#subscriberUp = true;
        this.#updateState();
      },
      down: (cause, error) => {
        this.#subscriberClient = null;
        this.#subscriberUp = false;
        this.#updateState(cause, error);
      },
    });
  }

  /** Where the backplane is: connecting (never up yet), up, down, or closed. */
  get state(): RedisBackplaneState {
    return this.#state;
  }

  /** Counters since the backplane was created (a copy). */
  get stats(): RedisBackplaneStats {
    return { ...this.#stats };
  }

  /**
   * Resolves once every subscription change made so far is in effect on Redis: after it, this
   * instance receives what other instances publish to its topics. Waits through an outage, unless
   * `signal` aborts first (then it rejects with the signal's reason, e.g. with
   * `AbortSignal.timeout(2000)`); resolves at once after `close()`.
   */
  settled(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#isSettled()) return Promise.resolve();
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const abort = () => {
        const at = this.#settledWaiters.indexOf(wake);
        if (at !== -1) this.#settledWaiters.splice(at, 1);
        reject(signal!.reason);
      };
      const wake = () => {
        signal?.removeEventListener("abort", abort);
        resolve();
      };
      signal?.addEventListener("abort", abort, { once: true });
      this.#settledWaiters.push(wake);
    });
  }

  /** Called by the server it is given to; a second server is refused. */
  attach(receive: (topic: string, message: Uint8Array) => BackplaneReceipt): void {
    if (this.#receive !== null) {
      throw new Error("a RedisBackplane serves one server; create one per server");
    }
    this.#receive = receive;
  }

  /** Starts listening to `topic`'s channel (now, or as soon as Redis is reachable). */
  subscribe(topic: string): void {
    if (this.#topics.has(topic) || this.#state === "closed") return;
    const listener = (message: Buffer) => this.#onMessage(topic, message);
    this.#topics.set(topic, listener);
    const client = this.#subscriberClient;
    if (client !== null) {
      this.#trackSubscription(client.subscribe(this.#prefix + topic, listener, true));
    }
  }

  /** Stops listening to `topic`'s channel. */
  unsubscribe(topic: string): void {
    const listener = this.#topics.get(topic);
    if (listener === undefined) return;
    this.#topics.delete(topic);
    const client = this.#subscriberClient;
    if (client !== null) {
      this.#trackSubscription(client.unsubscribe(this.#prefix + topic, listener, true));
    }
  }

  /** Publishes on `topic`'s channel, or drops and counts it while Redis is out of reach. */
  publish(topic: string, message: Uint8Array): void {
    const client = this.#publisherClient;
    const pending = this.#pending;
    if (client === null || pending.bytes + message.length > this.#maxPendingBytes) {
      this.#stats.dropped++;
      return;
    }
    this.#stats.published++;
    pending.add(message.length);
    // A Buffer view of the same bytes: node-redis would turn a plain Uint8Array into text.
    const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    client.publish(this.#prefix + topic, bytes).then(pending.settle, pending.settle);
  }

  /** Stops: waits briefly for publishes already sent, then disconnects. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#topics.clear();
    await Promise.all([this.#publisher.close(CLOSE_GRACE_MS), this.#subscriber.close(0)]);
    this.#publisherClient = null;
    this.#subscriberClient = null;
    this.#wakeSettled();
  }

  #onMessage(topic: string, message: Buffer): void {
    const receive = this.#receive;
    if (receive === null || this.#state === "closed") return;
    this.#stats.received++;
    const receipt = receive(topic, message);
    this.#stats[receipt]++;
  }

  #trackSubscription(command: Promise<void>): void {
    this.#subscriptionsInFlight++;
    const done = () => {
      this.#subscriptionsInFlight--;
      if (this.#isSettled()) this.#wakeSettled();
    };
    // A failure means the connection is gone; the next one restores every subscription.
    command.then(done, done);
  }

  #isSettled(): boolean {
    return this.#state === "closed" || (this.#subscriberUp && this.#subscriptionsInFlight === 0);
  }

  #wakeSettled(): void {
    for (const wake of this.#settledWaiters.splice(0)) wake();
  }

  /** Moves between up and down, reporting each transition (and a change of cause) once. */
  #updateState(cause?: RedisFailure, error?: Error): void {
    if (this.#state === "closed") return;
    const up = this.#publisherUp && this.#subscriberUp;
    if (up) {
      const previous = this.#state;
      this.#state = "up";
      this.#lastCause = null;
      if (previous === "connecting") this.#emit({ type: "up", url: this.#url });
      else if (previous === "down") {
        this.#emit({
          type: "recovered",
          url: this.#url,
          downtimeMs: Date.now() - this.#downSince,
          dropped: this.#stats.dropped - this.#droppedAtDown,
        });
      }
      if (this.#isSettled()) this.#wakeSettled();
      return;
    }
    if (cause === undefined || error === undefined) return; // one link up, the other on its way
    if (this.#state === "up") {
      this.#stats.outages++;
      this.#downSince = Date.now();
      this.#droppedAtDown = this.#stats.dropped;
    } else if (this.#state === "connecting") {
      this.#downSince = Date.now();
      this.#droppedAtDown = this.#stats.dropped;
    }
    const wasDown = this.#state === "down";
    this.#state = "down";
    if (wasDown && cause === this.#lastCause) return; // the same outage, retried: said already
    this.#lastCause = cause;
    this.#emit({ type: "down", url: this.#url, cause, error });
  }

  #emit(event: RedisBackplaneEvent): void {
    try {
      this.#onEvent(event);
    } catch (error) {
      console.error("edgews: the RedisBackplane onEvent callback threw:", error);
    }
  }
}

/**
 * The publishes of one connection that Redis has not answered yet, to bound them. Answers come in
 * the order the commands went out, so the oldest size is the one to take off.
 */
class PendingPublishes {
  readonly #sizes: number[] = [];
  #head = 0;
  /** Bytes sent and not yet answered. */
  bytes = 0;
  /** Counts a publish of `size` bytes as sent. */
  add(size: number): void {
    this.#sizes.push(size);
    this.bytes += size;
  }
  /** Takes the oldest publish off, once Redis has answered it (or the connection failed it). */
  readonly settle = (): void => {
    if (this.#head === this.#sizes.length) return;
    this.bytes -= this.#sizes[this.#head++];
    if (this.#head === this.#sizes.length) {
      this.#sizes.length = 0;
      this.#head = 0;
    }
  };
}

const CAUSES: Record<RedisFailure, string> = {
  unreachable: "is unreachable",
  authentication: "refused the credentials",
  "not-redis": "is not a Redis server (it answered in another protocol)",
  unresponsive: "stopped answering",
  error: "failed",
};

/** The default `onEvent`: one line per outage, cause change and recovery. */
function logEvent(event: RedisBackplaneEvent): void {
  if (event.type === "down") {
    console.error(
      `edgews: Redis at ${event.url} ${CAUSES[event.cause]} (${event.error.message}); ` +
        "topics reach this instance's subscribers only until it is back; retrying",
    );
  } else if (event.type === "recovered") {
    console.info(
      `edgews: Redis at ${event.url} is back after ${(event.downtimeMs / 1000).toFixed(1)} s; ` +
        `${event.dropped} messages published meanwhile did not reach other instances`,
    );
  } else {
    console.info(`edgews: connected to Redis at ${event.url}`);
  }
}

/**
 * One supervised connection to Redis: node-redis speaks the protocol, this file decides when the
 * connection is healthy and what to do when it is not. node-redis alone would keep a socket to a
 * server that has stopped answering (a frozen or partitioned Redis, a port that accepts and stays
 * silent) and would report every failed attempt as a new error event, so reconnection is done
 * here: each attempt is a fresh client with a deadline for the whole connect (TCP, TLS, AUTH),
 * a ready client is pinged on a timer, and any failure replaces it after a capped, jittered
 * backoff. Nothing is queued while there is no connection: callers see `client === null`.
 * @module
 */

import { createClient } from "redis";
import { ignore } from "../protocol/bytes.ts";

/** The node-redis client type, as `createClient` returns it. */
export type RedisClient = ReturnType<typeof createClient>;

/** The node-redis client options, as `createClient` takes them. */
export type RedisClientOptions = NonNullable<Parameters<typeof createClient>[0]>;

/** Why a connection is not (or no longer) usable. */
export type RedisFailure =
  /** Nothing answered at the address, or the connection broke. */
  | "unreachable"
  /** Redis refused the credentials (or wants some). */
  | "authentication"
  /** Something answered, but not in the Redis protocol: a wrong host or port. */
  | "not-redis"
  /** Connected, but Redis stopped answering within the deadline. */
  | "unresponsive"
  /** Any other error Redis or the client reported. */
  | "error";

/** Timing of a link, in ms. */
export interface LinkTiming {
  /** Deadline for one attempt to connect, TCP and TLS and AUTH together. */
  connectTimeout: number;
  /** Interval between health-check PINGs; an unanswered PING fails the link after as long. */
  healthCheckInterval: number;
  /** First reconnect delay; it doubles per failed attempt, up to `maxReconnectDelay`. */
  minReconnectDelay: number;
  /** Longest reconnect delay. */
  maxReconnectDelay: number;
}

/** What a link tells its owner. */
export interface LinkListener {
  /**
   * A fresh client is connected and authenticated. The link counts as up once the returned
   * promise settles (the subscriber restores its subscriptions here).
   */
  up(client: RedisClient): Promise<void> | void;
  /** An attempt failed, or the client that was up is gone; the link is retrying. */
  down(failure: RedisFailure, error: Error): void;
}

/** A connection to Redis that keeps itself alive; see the module comment. */
export class RedisLink {
  readonly #options: RedisClientOptions;
  readonly #timing: LinkTiming;
  readonly #listener: LinkListener;
  #client: RedisClient | null = null;
  #closed = false;
  #wake: (() => void) | null = null;
  readonly #stopped: Promise<void>;

  constructor(options: RedisClientOptions, timing: LinkTiming, listener: LinkListener) {
    this.#options = options;
    this.#timing = timing;
    this.#listener = listener;
    this.#stopped = this.#run();
  }

  /** The client while the link is up, else null. */
  get client(): RedisClient | null {
    return this.#client;
  }

  /**
   * Stops: waits up to `graceMs` for commands already sent (published messages) to be answered,
   * then drops the connection.
   */
  async close(graceMs: number): Promise<void> {
    if (this.#closed) return this.#stopped;
    this.#closed = true;
    const client = this.#client;
    this.#client = null;
    this.#wake?.();
    if (client !== null) {
      await withDeadline(client.close(), graceMs).catch(ignore);
      destroy(client);
    }
    await this.#stopped;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#closed) {
      const client = createClient({
        ...this.#options,
        // Reconnection is ours; node-redis would keep the same client and queue commands for it.
        disableOfflineQueue: true,
        socket: {
          ...this.#options.socket,
          connectTimeout: this.#timing.connectTimeout,
          reconnectStrategy: false,
        } as RedisClientOptions["socket"],
      });
      // The first error ends this client's life; later ones (and node-redis's own retries, which
      // are off) must not reach the process as unhandled 'error' events.
      let failed: (error: Error) => void = ignore;
      const failure = new Promise<Error>((resolve) => failed = resolve);
      // The first error says most: a server that answers in another protocol, then hangs up,
      // makes `connect()` reject with "socket closed" after the parser's "unknown RESP type".
      let firstError: Error | null = null;
      client.on("error", (error: Error) => {
        firstError ??= error;
        failed(error);
      });
      client.on("end", () => failed(new Error("connection closed")));

      try {
        await withDeadline(client.connect(), this.#timing.connectTimeout);
        if (this.#closed) throw new Error("closed");
        await withDeadline(Promise.resolve(this.#listener.up(client)), this.#timing.connectTimeout);
      } catch (error) {
        destroy(client);
        if (this.#closed) break;
        const cause = firstError ?? asError(error);
        this.#listener.down(classify(cause), cause);
        await this.#sleep(backoff(attempt++, this.#timing));
        continue;
      }
      if (this.#closed) {
        destroy(client);
        break;
      }
      attempt = 0;
      this.#client = client;
      const error = await Promise.race([failure, this.#healthCheck(client, failure)]);
      if (this.#client === client) this.#client = null;
      destroy(client);
      if (this.#closed) break;
      this.#listener.down(classify(error), error);
      // The first reconnect is quick (a restart of Redis is often over at once); the backoff
      // grows from there while attempts fail.
      await this.#sleep(backoff(attempt++, this.#timing));
    }
  }

  /** Resolves with an error once a PING goes unanswered past its deadline. */
  async #healthCheck(client: RedisClient, failure: Promise<Error>): Promise<Error> {
    const interval = this.#timing.healthCheckInterval;
    let gone = false;
    failure.then(() => gone = true);
    while (!gone && !this.#closed) {
      await this.#sleep(interval);
      if (gone || this.#closed || this.#client !== client) break;
      try {
        await withDeadline(client.ping(), interval);
      } catch (error) {
        if (gone || this.#closed) break;
        const message = error instanceof DeadlineError
          ? `no answer to PING within ${interval} ms`
          : asError(error).message;
        return new UnresponsiveError(message);
      }
    }
    return await failure;
  }

  /** Sleeps `ms`, or less when the link is closed meanwhile. */
  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const previous = this.#wake;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        previous?.();
        done();
      };
    });
  }
}

/** The delay before reconnect attempt `attempt` (0-based): doubling, capped, ±20% jitter. */
export function backoff(attempt: number, timing: LinkTiming): number {
  const base = Math.min(timing.maxReconnectDelay, timing.minReconnectDelay * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}

/** What kind of failure `error` is, from what node-redis and the socket layer report. */
export function classify(error: unknown): RedisFailure {
  if (error instanceof UnresponsiveError || error instanceof DeadlineError) return "unresponsive";
  const message = asError(error).message;
  const code = (error as { code?: unknown })?.code;
  if (/^(WRONGPASS|NOAUTH)\b|invalid password|AUTH .*(without|no password)/i.test(message)) {
    return "authentication";
  }
  if (/Unknown RESP type|Protocol error|unexpected reply/i.test(message)) return "not-redis";
  if (
    typeof code === "string" &&
    /^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|ETIMEDOUT)$/
      .test(code)
  ) {
    return "unreachable";
  }
  if (/closed|refused|reset|timed? ?out|connect/i.test(message)) return "unreachable";
  return "error";
}

/** A PING that went unanswered (or a connect that took too long). */
class UnresponsiveError extends Error {
  override name = "UnresponsiveError";
}

class DeadlineError extends Error {
  override name = "DeadlineError";
}

/** `promise`, or a rejection with a DeadlineError after `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
  });
  promise.catch(ignore); // a late rejection after the deadline is expected, not unhandled
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Drops a client and its socket at once; pending commands reject (and are counted there). */
function destroy(client: RedisClient): void {
  try {
    client.destroy();
  } catch {
    // Never connected, or already destroyed.
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

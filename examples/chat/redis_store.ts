/**
 * The chat room's memory in Redis, shared by every instance (process) of a scaled-out chat; see
 * store.ts for the interface. It has its own connection (node-redis), separate from the
 * RedisBackplane's, which carries the live messages.
 *
 * Keys (prefix `chat:` by default):
 * - `chat:history`, a stream: `XADD chat:history MAXLEN 100 * uid … message … time …`. The stream
 *   id (`<ms>-<seq>`, from Redis's clock) is the message id; a page that reconnects asks for the
 *   entries after the newest id it shows (XREVRANGE from `+` down to `(since`, at most 100).
 * - `chat:presence`, a sorted set: one member per connection, `<join ms>:<uid>`, scored by the
 *   time its lease expires (Redis's clock, ms). The list is sorted by the join time in the member.
 * - `chat:presence:version`, a counter: INCR on every change of the list, in the same transaction
 *   that reads the list back, so a higher version is a newer list. It starts from the clock (see
 *   `initialPresenceVersion`), so it goes on increasing if Redis restarts empty.
 *
 * Presence timing: every {@link TICK_MS} (1 s) each instance renews the leases of its own members
 * to now + {@link LEASE_MS} (4 s), and removes every member whose lease has expired
 * (ZRANGEBYSCORE and ZREMRANGEBYSCORE in one transaction, so it knows exactly which it removed).
 * The instance whose removal removed something publishes the new list to the room. So when an
 * instance dies without leaving (kill -9, a crashed machine), its members leave the others' lists
 * between 3 s after (the lease, less the up to one tick since its last renewal) and 5 s after
 * (the lease, plus up to one tick until another instance looks), give or take a round trip.
 * "Now" is Redis's clock: each tick measures the offset to it with TIME, so instances whose
 * clocks disagree still agree on leases.
 *
 * An instance that shuts down gracefully removes its members itself (`leaveAll`), at once.
 *
 * While Redis is down nothing crashes: messages get `id: null` and reach this instance's members
 * only (the backplane cannot carry them either), history and presence fail (the server tells the
 * client), and the log says so once per outage and once when Redis is back. From the first
 * failure on, the chat's commands fail at once (a frozen Redis would make each wait 2 s); only the
 * tick tries Redis, and its first success ends the outage. The members of this instance are
 * remembered and listed again by that tick (a Redis that restarted empty included), which then
 * publishes the list.
 * @module
 */

import { createClient } from "redis";
import {
  type ChatDraft,
  type ChatEntry,
  type ChatStore,
  HISTORY_SIZE,
  initialPresenceVersion,
  type PresenceUpdate,
} from "./store.ts";

/** How long a member stays listed after its instance last renewed it, in ms. */
export const LEASE_MS = 4_000;
/** How often each instance renews its members' leases and removes expired ones, in ms. */
export const TICK_MS = 1_000;
/**
 * A command unanswered this long fails, and the connection is replaced (a frozen Redis, a silent
 * network): the chat must not wait on it longer than a user would. Our own deadline: node-redis's
 * command `timeout` only covers the wait to be written to the socket, not the wait for the reply.
 */
const COMMAND_TIMEOUT_MS = 2_000;

/** Options for {@link RedisChatStore}. */
export interface RedisChatStoreOptions {
  /** `redis://[[user]:password@]host[:port][/db]`. */
  url: string;
  /** Prepended to every key; instances of one room agree on it. Defaults to `"chat:"`. */
  keyPrefix?: string;
  /** Where outage and recovery lines go. Defaults to `console.error`. */
  log?: (line: string) => void;
}

type Client = ReturnType<typeof createChatClient>;
type Multi = ReturnType<Client["multi"]>;

/** A connection to `url`; node-redis reconnects it by itself after an error. */
function createChatClient(url: string) {
  return createClient({
    url,
    // Fail at once while disconnected, instead of queueing commands for a Redis that may be gone
    // for long: the chat goes on locally meanwhile.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: COMMAND_TIMEOUT_MS,
      // Quickly at first, then every 2 s.
      reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2_000),
    },
  });
}

/** The chat's store in Redis; see the module comment. */
export class RedisChatStore implements ChatStore {
  /** The current connection; replaced when a command goes unanswered. */
  #client: Client;
  readonly #connectUrl: string;
  /** The URL without its password, for the log. */
  readonly #url: string;
  readonly #keys: { history: string; presence: string; version: string };
  readonly #log: (line: string) => void;
  /** This instance's members: uid → their member in the sorted set (`<join ms>:<uid>`). */
  readonly #local = new Map<string, string>();
  /** Redis's clock minus ours, in ms, as the last tick measured it. */
  #offset = 0;
  #listener: (update: PresenceUpdate) => void = () => {};
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Whether an outage has been reported and not yet its end. */
  #down = false;
  /** Settles once the first connection is ready (the first tick waits for it). */
  readonly #firstReady: Promise<void>;
  /** Whether the first attempt to connect is still under way (neither ready nor failed). */
  #connecting = true;

  constructor(options: RedisChatStoreOptions) {
    const prefix = options.keyPrefix ?? "chat:";
    this.#keys = {
      history: `${prefix}history`,
      presence: `${prefix}presence`,
      version: `${prefix}presence:version`,
    };
    this.#connectUrl = options.url;
    this.#url = redact(options.url);
    this.#log = options.log ?? ((line) => console.error(line));
    this.#client = this.#newClient();
    this.#firstReady = this.#client.connect().then(() => {}, () => {}).finally(() => {
      this.#connecting = false;
    });
    // Ticking starts once connected: a tick before that would only fail.
    this.#firstReady.then(() => {
      if (!this.#closed) this.#tick();
    });
  }

  onPresence(listener: (update: PresenceUpdate) => void): void {
    this.#listener = listener;
  }

  async append(draft: ChatDraft): Promise<ChatEntry | (ChatDraft & { id: null })> {
    try {
      await this.#usable();
      const id = await this.#command((client) =>
        client.xAdd(this.#keys.history, "*", { ...draft }, {
          TRIM: { strategy: "MAXLEN", threshold: HISTORY_SIZE },
        })
      );
      this.#ok();
      return { id, ...draft };
    } catch (error) {
      this.#failed(error);
      return { id: null, ...draft };
    }
  }

  async history(since: string | null): Promise<ChatEntry[]> {
    try {
      await this.#usable();
      // Newest first from the end down to just after `since`, so that even if more than
      // HISTORY_SIZE were kept, the newest are the ones returned.
      const entries = await this.#command((client) =>
        client.xRevRange(this.#keys.history, "+", since === null ? "-" : `(${since}`, {
          COUNT: HISTORY_SIZE,
        })
      );
      this.#ok();
      return (entries ?? []).reverse().map(({ id, message }) => ({
        id,
        uid: String(message.uid),
        message: String(message.message),
        time: String(message.time),
      }));
    } catch (error) {
      this.#failed(error);
      throw error;
    }
  }

  join(uid: string): Promise<PresenceUpdate | null> {
    const member = `${Math.round(this.#now())}:${uid}`;
    // Remembered at once: the next tick lists it even if this command fails.
    this.#local.set(uid, member);
    return this.#change(
      (multi) => multi.zAdd(this.#keys.presence, { score: this.#now() + LEASE_MS, value: member }),
      { joined: uid },
    );
  }

  leave(uid: string): Promise<PresenceUpdate | null> {
    const member = this.#local.get(uid);
    if (member === undefined) return Promise.resolve(null);
    this.#local.delete(uid);
    return this.#change((multi) => multi.zRem(this.#keys.presence, member), { left: uid });
  }

  leaveAll(): Promise<PresenceUpdate | null> {
    const members = [...this.#local.values()];
    this.#local.clear();
    if (members.length === 0) return Promise.resolve(null);
    return this.#change((multi) => multi.zRem(this.#keys.presence, members), {});
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    if (client.isReady) {
      // QUIT after what was sent; a Redis that does not answer gets the socket dropped instead.
      await withDeadline(client.close(), COMMAND_TIMEOUT_MS).catch(() => {});
    }
    destroy(client);
  }

  /** A new connection, its errors reported. */
  #newClient(): Client {
    const client = createChatClient(this.#connectUrl);
    // Each failed reconnect attempt is an 'error' event; without a listener the first one would
    // end the process. A replaced connection's last errors are of no interest.
    client.on("error", (error: Error) => {
      if (client !== this.#client) return;
      this.#connecting = false;
      this.#failed(error);
    });
    return client;
  }

  /**
   * Runs `command` on the current connection with a deadline. A command unanswered by then
   * fails, and the connection is replaced: a frozen Redis (or a silent network) would otherwise
   * hold it, and every command after it, for as long as it lasts.
   */
  async #command<T>(command: (client: Client) => Promise<T>): Promise<T> {
    const client = this.#client;
    try {
      return await withDeadline(command(client), COMMAND_TIMEOUT_MS);
    } catch (error) {
      if (error instanceof DeadlineError && client === this.#client && !this.#closed) {
        this.#client = this.#newClient();
        this.#client.connect().catch(() => {});
        destroy(client);
      }
      throw error;
    }
  }

  /**
   * Throws while an outage is on: then the chat's commands fail at once rather than each waiting
   * for a Redis that may be frozen; the tick alone tries Redis meanwhile, and its first success
   * ends the outage. At start, waits for the first attempt to connect (a command timeout at most):
   * a client that arrives just as the process starts is served once Redis answers, rather than
   * failed at once.
   */
  async #usable(): Promise<void> {
    if (this.#down) throw new Error("Redis is down");
    if (this.#connecting) await withDeadline(this.#firstReady, COMMAND_TIMEOUT_MS).catch(() => {});
  }

  /** Redis's clock, in ms, as of the last measured offset. */
  #now(): number {
    return Date.now() + this.#offset;
  }

  /**
   * Changes the list with `command`, then bumps the version and reads the list back, in one
   * transaction (so the version and the list match). Null on failure.
   */
  async #change(
    command: (multi: Multi) => unknown,
    change: { joined?: string; left?: string },
  ): Promise<PresenceUpdate | null> {
    try {
      await this.#usable();
      const replies = await this.#command((client) => {
        const multi = client.multi();
        command(multi);
        return this.#versioned(multi).exec();
      });
      this.#ok();
      return { ...this.#listFrom(replies as unknown[]), ...change };
    } catch (error) {
      this.#failed(error);
      return null;
    }
  }

  /** Adds the version bump and the read of the list to `multi` (its last three replies). */
  #versioned(multi: Multi): Multi {
    return multi
      // A counter that Redis lost (restarted empty) starts again from the clock, not from 0.
      .set(this.#keys.version, String(initialPresenceVersion(this.#now())), { NX: true })
      .incr(this.#keys.version)
      .zRange(this.#keys.presence, 0, -1);
  }

  /** The list from a transaction built with {@link #versioned}. */
  #listFrom(replies: unknown[]): PresenceUpdate {
    const members = replies.at(-1) as string[];
    const version = Number(replies.at(-2));
    return { users: byJoinTime(members).map(uidOf), version };
  }

  /** Renews this instance's leases, removes expired members, publishes when the list changed. */
  async #tick(): Promise<void> {
    try {
      const sent = Date.now();
      const [seconds, micros] = await this.#command((client) => client.time());
      const received = Date.now();
      // The reply was made about halfway through the round trip.
      this.#offset = Number(seconds) * 1_000 + Number(micros) / 1_000 - (sent + received) / 2;
      const replies = await this.#command((client) => {
        // Built and sent at once, after the await: a leave() in between is not renewed back.
        const now = this.#now();
        const multi = client.multi();
        if (this.#local.size > 0) {
          const renewals = [...this.#local.values()].map((value) => ({
            score: now + LEASE_MS,
            value,
          }));
          multi.zAdd(this.#keys.presence, renewals);
        }
        // In one transaction: exactly the members this removal removes.
        return multi.zRangeByScore(this.#keys.presence, "-inf", now)
          .zRemRangeByScore(this.#keys.presence, "-inf", now)
          .exec();
      });
      // New members of the set (the ZADD's reply, when there was one): this instance's, lost by
      // Redis (it restarted) or removed by another instance while this one could not renew them
      // (an outage, a long pause).
      const added = replies.length === 3 ? Number(replies[0]) : 0;
      const expired = (replies.at(-2) as unknown as string[]).map(uidOf);
      if (added > 0 || expired.length > 0) {
        const list = this.#listFrom(
          await this.#command((client) => this.#versioned(client.multi()).exec()),
        );
        if (!this.#closed) this.#listener(expired.length > 0 ? { ...list, expired } : list);
      }
      this.#ok();
    } catch (error) {
      this.#failed(error);
    } finally {
      // The next tick a whole TICK_MS after this one ended: ticks never overlap.
      if (!this.#closed) this.#timer = setTimeout(() => this.#tick(), TICK_MS);
    }
  }

  #failed(error: unknown): void {
    if (this.#down || this.#closed) return;
    this.#down = true;
    const message = error instanceof Error ? error.message : String(error);
    this.#log(
      `chat: Redis at ${this.#url} failed (${message}): no history or member list, and ` +
        "messages reach this instance's members only, until it is back; retrying",
    );
  }

  #ok(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#log(`chat: Redis at ${this.#url} is back: history and member list restored`);
  }
}

class DeadlineError extends Error {
  override name = "DeadlineError";
}

/** `promise`, or a DeadlineError after `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A late rejection (the connection replaced meanwhile) is expected, not unhandled.
  promise.catch(() => {});
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Drops a connection at once (commands still waiting on it fail). */
function destroy(client: Client): void {
  try {
    client.destroy();
  } catch {
    // Never connected, or destroyed already.
  }
}

/** `<join ms>:<uid>` → uid. */
function uidOf(member: string): string {
  return member.slice(member.indexOf(":") + 1);
}

/** Members in the order they joined (ties, in the same ms, by uid). */
function byJoinTime(members: string[]): string[] {
  const joined = (member: string) => Number(member.slice(0, member.indexOf(":")));
  return [...members].sort((a, b) => joined(a) - joined(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.href;
  } catch {
    return "(invalid URL)";
  }
}

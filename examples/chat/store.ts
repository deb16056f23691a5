/**
 * What the chat room remembers: the last messages (each with an id) and who is connected (with a
 * version). The server (server.ts) only talks to the {@link ChatStore} interface; this file has
 * the in-memory store of a single process, and redis_store.ts the one that every instance of a
 * scaled-out chat shares through Redis.
 *
 * Message ids have the form `<ms>-<seq>` (a Redis stream id): they increase within the room, so a
 * page that reconnects can ask for the messages after the newest one it shows (`since`), and they
 * stay unique across restarts because the milliseconds come from the clock.
 * @module
 */

/** How many past messages a newcomer gets. */
export const HISTORY_SIZE = 100;

/** A chat message as stored and sent. */
export interface ChatEntry {
  /** `<ms>-<seq>`, increasing within the room. */
  id: string;
  uid: string;
  message: string;
  /** ISO 8601, set by the server that received the message. */
  time: string;
}

/** A message before the store has given it an id. */
export type ChatDraft = Omit<ChatEntry, "id">;

/** The member list after a change, to publish to the room. */
export interface PresenceUpdate {
  /** Connected uids, in the order they joined. */
  users: string[];
  /**
   * Increases with every change of the list: of two lists, the one with the higher version is the
   * newer (they can arrive out of order when two instances publish at once).
   */
  version: number;
  joined?: string;
  left?: string;
  /** Members whose instance stopped renewing their lease (it died), removed by this instance. */
  expired?: string[];
}

/** What the chat server needs from its memory; see the module comment. */
export interface ChatStore {
  /**
   * Adds a message to the history and gives it its id. Resolves with `id: null` when the history
   * cannot be written (Redis is down): the message then reaches this instance's members only,
   * and the log says why (once per outage).
   */
  append(draft: ChatDraft): Promise<ChatEntry | (ChatDraft & { id: null })>;
  /**
   * The last {@link HISTORY_SIZE} messages, oldest first; with `since` (an id), only those after
   * it. Rejects when the history cannot be read.
   */
  history(since: string | null): Promise<ChatEntry[]>;
  /**
   * Adds a member of this instance to the list. Resolves with the list to publish, or null when
   * it cannot be updated now (the member is still remembered, and listed once it can be).
   */
  join(uid: string): Promise<PresenceUpdate | null>;
  /** Removes a member of this instance; null when it was not joined, or on failure. */
  leave(uid: string): Promise<PresenceUpdate | null>;
  /**
   * Removes every member of this instance (before a shutdown), and resolves with the list to
   * publish to the other instances, or null when there is nobody else to tell.
   */
  leaveAll(): Promise<PresenceUpdate | null>;
  /**
   * `listener` hears of changes the store makes by itself (members whose lease expired, members
   * listed again after an outage); the server publishes them. Set once, by the server.
   */
  onPresence(listener: (update: PresenceUpdate) => void): void;
  /** Stops timers and closes connections. */
  close(): Promise<void>;
}

const ID = /^(\d{1,15})-(\d{1,15})$/;

/**
 * Whether `text` is a message id (`<ms>-<seq>`). Each part is capped at 15 digits, so ids compare
 * exactly as JavaScript numbers and Redis accepts them.
 */
export function isMessageId(text: string): boolean {
  return ID.test(text);
}

/** Negative, zero or positive as id `a` is before, equal to or after id `b`. */
export function compareIds(a: string, b: string): number {
  const [, aMs, aSeq] = a.match(ID)!;
  const [, bMs, bSeq] = b.match(ID)!;
  return Number(aMs) - Number(bMs) || Number(aSeq) - Number(bSeq);
}

/**
 * Presence versions start from the clock (ms × 1,000) rather than from 1, so they keep
 * increasing across a restart that forgot the counter (a process, or a Redis without
 * persistence): a page holding version 5,000,000 from before must not ignore the lists after.
 * 1,000 changes per ms would be needed to overtake the clock; ms × 1,000 stays below 2^53.
 */
export function initialPresenceVersion(nowMs: number): number {
  return Math.floor(nowMs) * 1_000;
}

/**
 * The store of a single process: a ring of the last {@link HISTORY_SIZE} messages and the member
 * list, in memory. Ids are `<ms>-<seq>` from this process's clock, increasing even when the clock
 * steps back (the sequence goes on within the last millisecond used).
 */
export class MemoryChatStore implements ChatStore {
  /** The last HISTORY_SIZE messages, oldest first: a ring that overwrites its oldest slot. */
  readonly #ring: ChatEntry[] = [];
  #ringStart = 0;
  #lastMs = 0;
  #lastSeq = 0;
  /** Connected uids, in the order they joined (a Set iterates in insertion order). */
  readonly #members = new Set<string>();
  #version = initialPresenceVersion(Date.now());

  append(draft: ChatDraft): Promise<ChatEntry> {
    const entry = { id: this.#nextId(), ...draft };
    if (this.#ring.length < HISTORY_SIZE) this.#ring.push(entry);
    else {
      this.#ring[this.#ringStart] = entry;
      this.#ringStart = (this.#ringStart + 1) % HISTORY_SIZE;
    }
    return Promise.resolve(entry);
  }

  history(since: string | null): Promise<ChatEntry[]> {
    const all = [...this.#ring.slice(this.#ringStart), ...this.#ring.slice(0, this.#ringStart)];
    return Promise.resolve(
      since === null ? all : all.filter((entry) => compareIds(entry.id, since) > 0),
    );
  }

  join(uid: string): Promise<PresenceUpdate> {
    this.#members.add(uid);
    return Promise.resolve({ ...this.#list(), joined: uid });
  }

  leave(uid: string): Promise<PresenceUpdate | null> {
    if (!this.#members.delete(uid)) return Promise.resolve(null);
    return Promise.resolve({ ...this.#list(), left: uid });
  }

  leaveAll(): Promise<null> {
    // Every member is on this instance, and all of them are about to be disconnected.
    this.#members.clear();
    return Promise.resolve(null);
  }

  onPresence(): void {
    // Nothing changes by itself here: members leave when their connection closes.
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #list(): PresenceUpdate {
    return { users: [...this.#members], version: ++this.#version };
  }

  #nextId(): string {
    const now = Date.now();
    if (now > this.#lastMs) {
      this.#lastMs = now;
      this.#lastSeq = 0;
    } else {
      this.#lastSeq++;
    }
    return `${this.#lastMs}-${this.#lastSeq}`;
  }
}

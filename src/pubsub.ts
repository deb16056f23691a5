/**
 * Topics for publish/subscribe: which connections listen to which topic. A published message is
 * encoded into a frame once and the same bytes are handed to every subscriber.
 * @module
 */

/** The method a subscriber implements to take a shared frame; kept off the public API. */
export const SEND_ENCODED_FRAME: unique symbol = Symbol("edgews.sendEncodedFrame");

/** What the registry needs from a subscriber. */
export interface Subscriber {
  /** Queues an already-encoded frame; returns whether it was queued. */
  [SEND_ENCODED_FRAME](frame: Uint8Array): boolean;
}

/** Topic → subscribers, owned by a server and shared by its connections. */
export class TopicRegistry<S extends Subscriber> {
  readonly #topics = new Map<string, Set<S>>();

  /** Adds `subscriber` to `topic`; returns false when it was already there. */
  subscribe(topic: string, subscriber: S): boolean {
    let subscribers = this.#topics.get(topic);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.#topics.set(topic, subscribers);
    }
    if (subscribers.has(subscriber)) return false;
    subscribers.add(subscriber);
    return true;
  }

  /** Removes `subscriber` from `topic`; returns false when it was not there. */
  unsubscribe(topic: string, subscriber: S): boolean {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined || !subscribers.delete(subscriber)) return false;
    if (subscribers.size === 0) this.#topics.delete(topic);
    return true;
  }

  /** How many subscribers `topic` has. */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /**
   * Hands `frame` to every subscriber of `topic` except `exclude`. Returns how many queued it.
   * The same encoded bytes go to all of them: nothing is encoded per subscriber (each subscriber
   * batches small frames with its other writes; see WebSocketConnection's #queueEncoded).
   */
  publish(topic: string, frame: Uint8Array, exclude: S | null): number {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined) return 0;
    let queued = 0;
    for (const subscriber of subscribers) {
      if (subscriber !== exclude && subscriber[SEND_ENCODED_FRAME](frame)) queued++;
    }
    return queued;
  }
}

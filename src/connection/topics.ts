/**
 * Topics for publish/subscribe: which connections listen to which topic, and, with a
 * {@link Backplane}, the link to the other instances of the application. A published message is
 * encoded into a frame once and the same bytes are handed to every subscriber, here and (inside
 * the backplane's envelope) on every other instance.
 * @module
 */

import {
  type Backplane,
  type BackplaneReceipt,
  ENVELOPE_HEADER_BYTES,
  newOrigin,
  openEnvelope,
  writeEnvelopeHeader,
} from "../backplane.ts";
import { FrameArena, type SendData } from "./message_frame.ts";

/** The method a subscriber implements to take a shared frame; kept off the public API. */
export const SEND_ENCODED_FRAME: unique symbol = Symbol("edgews.sendEncodedFrame");

/** What the registry needs from a subscriber. */
export interface Subscriber {
  /** Queues an already-encoded frame; returns whether it was queued. */
  [SEND_ENCODED_FRAME](frame: Uint8Array, buffer: ArrayBufferLike): boolean;
}

/**
 * Topic → subscribers, owned by a server and shared by its connections. With a backplane, the
 * registry subscribes this instance to a topic there while the topic has local subscribers, hands
 * every publish to it, and delivers what other instances publish to the local subscribers only.
 */
export class TopicRegistry<S extends Subscriber> {
  readonly #topics = new Map<string, Set<S>>();
  readonly #backplane: Backplane | null;
  /** This instance's id in the backplane's envelopes, to recognise its own messages. */
  readonly #origin: Uint8Array;
  /** Whether the backplane's last call threw (reported once, not on every call after it). */
  #backplaneFailing = false;
  /** Where local publishes are encoded, side by side (see FrameArena). */
  readonly #arena = new FrameArena();

  constructor(backplane: Backplane | null = null) {
    this.#backplane = backplane;
    this.#origin = newOrigin();
    backplane?.attach((topic, message) => this.#receive(topic, message));
  }

  /** Adds `subscriber` to `topic`; returns false when it was already there. */
  subscribe(topic: string, subscriber: S): boolean {
    let subscribers = this.#topics.get(topic);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.#topics.set(topic, subscribers);
      if (this.#backplane !== null) this.#callBackplane("subscribe", topic);
    }
    if (subscribers.has(subscriber)) return false;
    subscribers.add(subscriber);
    return true;
  }

  /** Removes `subscriber` from `topic`; returns false when it was not there. */
  unsubscribe(topic: string, subscriber: S): boolean {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined || !subscribers.delete(subscriber)) return false;
    if (subscribers.size === 0) {
      this.#topics.delete(topic);
      if (this.#backplane !== null) this.#callBackplane("unsubscribe", topic);
    }
    return true;
  }

  /** How many local subscribers `topic` has. */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /**
   * Queues `data` (text for a string, binary for bytes) for every local subscriber of `topic`
   * except `exclude`, and hands it to the backplane for the other instances. Returns how many
   * local subscribers queued it. The frame is encoded once: each subscriber batches small frames
   * with its other writes (see WebSocketConnection's #queueEncoded), and the backplane carries
   * the same bytes behind its envelope header.
   */
  publish(topic: string, data: SendData, exclude: S | null): number {
    const subscribers = this.#topics.get(topic);
    const frame = this.#arena.encode(data);
    if (this.#backplane !== null) {
      // The backplane gets a copy behind its envelope header, and the subscribers the arena's
      // bytes: with its own buffer per publish, a frame would no longer sit next to the one before,
      // and every subscriber would copy each into a batch instead of writing them as one slice.
      const envelope = new Uint8Array(ENVELOPE_HEADER_BYTES + frame.length);
      writeEnvelopeHeader(envelope, this.#origin);
      envelope.set(frame, ENVELOPE_HEADER_BYTES);
      // The other instances first: their hop through the engine then overlaps this instance's
      // fan-out instead of waiting behind it (with hundreds of local subscribers, milliseconds).
      this.#callBackplane("publish", topic, envelope);
    }
    return subscribers === undefined ? 0 : deliver(subscribers, frame, exclude);
  }

  /** Shuts the backplane down (the server's last step). */
  async close(): Promise<void> {
    try {
      await this.#backplane?.close();
    } catch (error) {
      console.error("edgews: the backplane failed to close:", error);
    }
  }

  /** A message from another instance: to every local subscriber, nobody excluded. */
  #receive(topic: string, message: Uint8Array): BackplaneReceipt {
    const frame = openEnvelope(message, this.#origin);
    if (typeof frame === "string") return frame;
    const subscribers = this.#topics.get(topic);
    // Copied once, into the arena: subscribers may hold the frame past this call (a large write,
    // a frame waiting behind compression), and the backplane's client may reuse the memory it lent.
    if (subscribers !== undefined) deliver(subscribers, this.#arena.copy(frame), null);
    return "delivered";
  }

  /**
   * Calls the backplane, which must not throw; if it does anyway, local delivery goes on and the
   * error is reported once until a call succeeds again.
   */
  #callBackplane(
    method: "subscribe" | "unsubscribe" | "publish",
    topic: string,
    message?: Uint8Array,
  ): void {
    try {
      if (method === "publish") this.#backplane!.publish(topic, message!);
      else this.#backplane![method](topic);
      this.#backplaneFailing = false;
    } catch (error) {
      if (this.#backplaneFailing) return;
      this.#backplaneFailing = true;
      console.error(`edgews: the backplane's ${method}() threw (reported once):`, error);
    }
  }
}

/** Hands `frame` to every subscriber but `exclude`; returns how many queued it. */
function deliver<S extends Subscriber>(
  subscribers: Set<S>,
  frame: Uint8Array,
  exclude: S | null,
): number {
  let queued = 0;
  // Read once here, not by each subscriber: on Bun `.buffer` is a call that costs 3% of a
  // broadcast.
  const buffer = frame.buffer;
  for (const subscriber of subscribers) {
    if (subscriber !== exclude && subscriber[SEND_ENCODED_FRAME](frame, buffer)) queued++;
  }
  return queued;
}

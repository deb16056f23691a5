/**
 * For the protocol unit tests: a Receiver handler that records every event as plain data (so runs
 * can be compared with deepEqual).
 * @module
 */

import { Receiver, type ReceiverOptions } from "../../src/protocol/receiver.ts";
import { hex } from "../helpers/bytes.ts";

/** One thing the receiver reported, as plain data. */
export type Event =
  | ["text", string]
  | ["binary", string]
  | ["ping", string]
  | ["pong", string]
  | ["close", number, string]
  | ["error", number];

/** A receiver with a recording handler. */
export interface Recorded {
  receiver: Receiver;
  events: Event[];
}

/** Defaults for tests: server role, generous limits (maxFrameSize left to its default). */
export const SERVER: ReceiverOptions = {
  expectMasked: true,
  maxPayload: 64 * 1024 * 1024,
  maxFragments: 100_000,
};

/** Full receiver options: the defaults above with `options` applied. */
export function receiverOptions(options: Partial<ReceiverOptions> = {}): ReceiverOptions {
  return { ...SERVER, ...options };
}

/** Creates a receiver whose handler records every event; binary payloads are copied. */
export function record(options: Partial<ReceiverOptions> = {}): Recorded {
  const events: Event[] = [];
  const receiver = new Receiver({
    onMessage(data) {
      if (typeof data === "string") events.push(["text", data]);
      else {
        assert(data instanceof Uint8Array, "binary messages are Uint8Array");
        events.push(["binary", hex(data)]);
      }
    },
    onPing(payload) {
      events.push(["ping", hex(payload)]);
    },
    onPong(payload) {
      events.push(["pong", hex(payload)]);
    },
    onClose(code, reason) {
      events.push(["close", code, reason]);
    },
    onProtocolError({ code }) {
      events.push(["error", code]);
    },
  }, receiverOptions(options));
  return { receiver, events };
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Feeds `bytes` to a fresh receiver in one push and returns the events. */
export function run(bytes: Uint8Array, options: Partial<ReceiverOptions> = {}): Event[] {
  const { receiver, events } = record(options);
  receiver.push(bytes);
  return events;
}

/** The first error code reported, or null. */
export function errorCode(events: Event[]): number | null {
  const error = events.find((e) => e[0] === "error");
  return error === undefined ? null : error[1] as number;
}

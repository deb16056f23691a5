/**
 * Shared pieces for the protocol unit tests: a Receiver handler that records every event as plain
 * data (so runs can be compared with deepEqual), byte helpers and a seeded PRNG.
 * @module
 */

import { Receiver, type ReceiverOptions } from "../../src/protocol/receiver.ts";

/** One thing the receiver reported, as plain data. */
export type Event =
  | ["text", string]
  | ["binary", string]
  | ["ping", string]
  | ["pong", string]
  | ["close", number, string]
  | ["error", number];

/** Hex of bytes, for readable assertion failures. */
export function hex(data: Uint8Array): string {
  const parts: string[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) parts[i] = HEX[data[i]];
  return parts.join("");
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Joins byte arrays. */
export function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

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

/** A small deterministic PRNG (mulberry32), so "random" splits are reproducible. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes filled from a seed. */
export function randomBytes(length: number, seed: number): Uint8Array {
  const next = seeded(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256);
  return out;
}

/**
 * A client connection under test: `connect()` with a handler that records every message, ping,
 * pong and close, and lets the test wait for the next of each, with a deadline so that nothing
 * hangs.
 * @module
 */

import { connect, type ConnectOptions, type Message, type WebSocketConnection } from "../../mod.ts";

/** How long any single wait may take before the test fails instead of hanging. */
export const WAIT_MS = 30_000;

/** Rejects with a clear message when `promise` has not settled after `ms`. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A queue that a handler pushes into and a test takes from. */
export class Queue<T> {
  readonly items: T[] = [];
  #taken = 0;
  #wake: (() => void) | null = null;
  push(item: T): void {
    this.items.push(item);
    this.#wake?.();
  }
  async next(what: string, ms = WAIT_MS): Promise<T> {
    while (this.#taken >= this.items.length) {
      await within(new Promise<void>((resolve) => this.#wake = resolve), what, ms);
    }
    return this.items[this.#taken++];
  }
}

/** A connected client and everything it has seen. */
export interface Probe {
  ws: WebSocketConnection;
  messages: Queue<Message>;
  pings: Queue<Uint8Array>;
  pongs: Queue<Uint8Array>;
  /** Every call of the `close` callback. */
  closes: Array<{ code: number; reason: string }>;
  /** Errors reported to the `error` callback. */
  errors: unknown[];
}

/** Connects to `url` with a recording handler. */
export async function probe(url: string, options: ConnectOptions = {}): Promise<Probe> {
  const messages = new Queue<Message>();
  const pings = new Queue<Uint8Array>();
  const pongs = new Queue<Uint8Array>();
  const closes: Array<{ code: number; reason: string }> = [];
  const errors: unknown[] = [];
  const ws = await within(
    connect(url, {
      ...options,
      websocket: {
        message: (_ws, message) => messages.push(message),
        ping: (_ws, payload) => pings.push(payload.slice()),
        pong: (_ws, payload) => pongs.push(payload.slice()),
        close: (_ws, code, reason) => void closes.push({ code, reason }),
        error: (_ws, error) => void errors.push(error),
      },
    }),
    `connecting to ${url}`,
  );
  return { ws, messages, pings, pongs, closes, errors };
}

/** Closes (if still open) and waits for the end, so no socket outlives its test. */
export async function finish(p: Probe | undefined): Promise<void> {
  if (p === undefined) return;
  p.ws.close(1000);
  await within(p.ws.closed, "closing").catch(() => p.ws.terminate());
}

/** A deterministic pseudo-random byte array (xorshift32). */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 255;
  }
  return out;
}

/** FNV-1a, 32 bits: a cheap checksum for comparing big messages. */
export function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i];
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Text for an assertion message. */
export function describeMessage(message: Message): string {
  return typeof message === "string"
    ? `text ${JSON.stringify(message.slice(0, 80))}`
    : `${message.constructor.name}(${message.length})`;
}

/**
 * A client connection under test: `connect()` with a handler that records every message, ping,
 * pong and close, and lets the test wait for the next of each, with a deadline so that nothing
 * hangs.
 * @module
 */

import { connect, type ConnectOptions, type Message, type WebSocketConnection } from "../../mod.ts";
import { WAIT_MS, within } from "../helpers/timing.ts";

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
      await within(new Promise<void>((resolve) => this.#wake = resolve), ms, what);
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
    WAIT_MS,
    `connecting to ${url}`,
  );
  return { ws, messages, pings, pongs, closes, errors };
}

/** Closes (if still open) and waits for the end, so no socket outlives its test. */
export async function finish(p: Probe | undefined): Promise<void> {
  if (p === undefined) return;
  p.ws.close(1000);
  await within(p.ws.closed, WAIT_MS, "closing").catch(() => p.ws.terminate());
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

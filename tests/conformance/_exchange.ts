/**
 * For the conformance tests: a byte-exact exchange over a raw socket, the assertion that a
 * connection failed with one close frame and nothing else, and an echo server that records its
 * callbacks per connection (keyed by the request path).
 * @module
 */

import assert from "node:assert/strict";
import type { Message, WebSocketServer } from "../../mod.ts";
import { hex } from "../helpers/bytes.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { sleep } from "../helpers/timing.ts";
import { startServer } from "../helpers/servers.ts";
import { clientFrame, closeCodeOf, closePayload, OP, readFrames } from "../helpers/wire.ts";

/** The client's close frame with 1000, and the server's exact answer to it. */
export const CLIENT_CLOSE = clientFrame(OP.close, closePayload(1000));
export const SERVER_CLOSE = Uint8Array.from([0x88, 0x02, 0x03, 0xe8]);

/** Writes `data` in one write; returns every byte the server sent until it closed TCP. */
export async function exchange(client: RawClient, data: Uint8Array): Promise<Uint8Array> {
  client.write(data);
  await client.waitForEnd();
  return client.pending;
}

/** `received` is exactly `expected`. */
export function assertBytes(received: Uint8Array, expected: Uint8Array): void {
  assert.equal(hex(received, " "), hex(expected, " "));
}

/** `received` is exactly `before`, then one close frame with `code`, then nothing. */
export function assertFailed(received: Uint8Array, before: Uint8Array, code: number): void {
  assert.equal(
    hex(received.subarray(0, before.length), " "),
    hex(before, " "),
    "frames before the close",
  );
  const rest = received.subarray(before.length);
  const { frames, used } = readFrames(rest);
  assert.equal(used, rest.length, "only whole frames follow");
  assert.deepEqual(frames.map((f) => f.opcode), [OP.close], "exactly one close frame follows");
  const [close] = frames;
  assert.equal(close.fin, true);
  assert.equal(close.rsv, 0);
  assert.equal(close.masked, false);
  assert.equal(closeCodeOf(close), code);
}

/** What the server's callbacks saw on one connection. */
export interface Seen {
  messages: Message[];
  pings: Uint8Array[];
  pongs: Uint8Array[];
  closed: Promise<{ code: number; reason: string }>;
}

/** An echo server that records its callbacks per connection (keyed by the request path). */
/** A recording echo server, and a way to open a raw connection to it with its own record. */
export interface RecordingServer {
  server: WebSocketServer<string>;
  /** What the callbacks saw on the connection with this request path. */
  seen(id: string): Seen;
  /** Opens a raw connection on a fresh path (`prefix` + a counter) and returns it with its record. */
  open(prefix?: string): Promise<{ client: RawClient; entry: Seen }>;
}

export function recordingServer(): RecordingServer {
  const all = new Map<string, Seen & { resolve(info: { code: number; reason: string }): void }>();
  const seen = (id: string) => {
    let entry = all.get(id);
    if (entry === undefined) {
      let resolve!: (info: { code: number; reason: string }) => void;
      const closed = new Promise<{ code: number; reason: string }>((r) => resolve = r);
      entry = { messages: [], pings: [], pongs: [], closed, resolve };
      all.set(id, entry);
    }
    return entry;
  };
  const server = startServer<string>({
    upgrade: (request) => ({ data: new URL(request.url).pathname }),
    websocket: {
      open(ws) {
        if (ws.data.startsWith("/server-ping")) ws.ping("from server");
      },
      message(ws, message) {
        seen(ws.data).messages.push(message);
        ws.send(message);
      },
      ping(ws, payload) {
        seen(ws.data).pings.push(payload.slice());
      },
      pong(ws, payload) {
        seen(ws.data).pongs.push(payload.slice());
      },
      close(ws, code, reason) {
        seen(ws.data).resolve({ code, reason });
      },
    },
  });
  let counter = 0;
  const open = async (prefix = "/c") => {
    const id = `${prefix}${counter++}`;
    const client = await RawClient.open(server.port, { path: id });
    return { client, entry: seen(id) };
  };
  return { server, seen, open };
}

/** Waits for the server's close callback (bounded, so a missing callback fails the test). */
export function closedWith(entry: Seen): Promise<{ code: number; reason: string }> {
  return Promise.race([
    entry.closed,
    sleep(5000).then(() => Promise.reject(new Error("the close callback was not called"))),
  ]);
}

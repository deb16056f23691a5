/**
 * For the conformance tests: a byte-exact exchange over a raw socket, the assertion that a
 * connection failed with one close frame and nothing else, and the recording server they talk to.
 * @module
 */

import { after, before } from "node:test";
import assert from "node:assert/strict";
import { hex } from "../helpers/bytes.ts";
import { RawClient } from "../helpers/raw_client.ts";
import {
  type Close,
  type ConnectionRecord,
  type RecordingServer,
  startRecordingServer,
} from "../helpers/recording_server.ts";
import { within } from "../helpers/timing.ts";
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

/**
 * For a `describe` body: a recording echo server (which pings "from server" on `/server-ping`),
 * started before the suite's tests and stopped after them. Returns `open`: a raw connection to it
 * on `path`, with the server's record of that connection.
 */
export function recordingSuite(): (path?: string) => Promise<Opened> {
  let recording: RecordingServer;
  before(() => {
    recording = startRecordingServer({
      onOpen(ws) {
        if (ws.data.path === "/server-ping") ws.ping("from server");
      },
    });
  });
  after(() => recording.server.stop());
  return (path) => openRaw(recording, path);
}

/** A raw connection and the server's record of it. */
export interface Opened {
  client: RawClient;
  entry: ConnectionRecord;
}

/** Opens a raw connection on `path` under a fresh id; returns it with the server's record of it. */
export async function openRaw(recording: RecordingServer, path = "/c"): Promise<Opened> {
  const { id, path: tagged } = recording.tag(path);
  const client = await RawClient.open(recording.server.port, { path: tagged });
  return { client, entry: recording.record(id) };
}

/** Waits for the server's close callback (bounded, so a missing callback fails the test). */
export function closedWith(entry: ConnectionRecord): Promise<Close> {
  return within(entry.closeCallback, 5000, "the close callback");
}

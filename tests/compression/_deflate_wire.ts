/**
 * Helpers for permessage-deflate tests on the wire: a raw client's handshake with an offer,
 * compressing and inflating test-side, and waiting for a close code.
 * @module
 */

import assert from "node:assert/strict";
import * as zlib from "node:zlib";
import type { WebSocketServer } from "../../mod.ts";
import { concat, hex } from "../helpers/bytes.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { closeCodeOf, OP } from "../helpers/wire.ts";

export const OFFER = { "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits" };
export const RSV1 = 4;

/** Raw-deflates `input` test-side (streaming, so a 1 GiB bomb never exists in memory). */
export async function deflate(chunks: Iterable<Uint8Array>): Promise<Uint8Array> {
  const stream = zlib.createDeflateRaw({ level: 9 });
  const out: Uint8Array[] = [];
  stream.on("data", (c: Uint8Array) => out.push(c));
  for (const chunk of chunks) stream.write(chunk);
  await new Promise<void>((resolve) => stream.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  stream.close();
  const all = concat(...out);
  assert.equal(hex(all.subarray(all.length - 4), " "), "00 00 ff ff");
  return all.subarray(0, all.length - 4);
}

/** Inflates server messages test-side, one inflater per connection (context takeover). */
export function inflater(): (payload: Uint8Array) => Promise<Uint8Array> {
  const stream = zlib.createInflateRaw();
  let out: Uint8Array[] = [];
  stream.on("data", (c: Uint8Array) => out.push(c));
  return async (payload) => {
    stream.write(payload);
    stream.write(new Uint8Array([0, 0, 0xff, 0xff]));
    await new Promise<void>((resolve) =>
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve())
    );
    const all = concat(...out);
    out = [];
    return all;
  };
}

export async function open(server: WebSocketServer, headers: Record<string, string> = OFFER) {
  const client = await RawClient.connect(server.port);
  client.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n",
  );
  const head = await client.readResponseHead();
  assert.equal(head.status, 101);
  return { client, extensions: head.headers.get("sec-websocket-extensions") ?? null };
}

export async function expectClose(client: RawClient, code: number): Promise<void> {
  const frames = await client.readUntilClose(10_000);
  const close = frames.at(-1);
  assert.ok(close !== undefined && close.opcode === OP.close, "a close frame");
  assert.equal(closeCodeOf(close), code);
  await client.waitForEnd(10_000);
}

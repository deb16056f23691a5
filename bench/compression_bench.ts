/**
 * Compression codecs for permessage-deflate, measured on the runtime running this file:
 * node:zlib streams (write + flush(Z_SYNC_FLUSH), with and without context takeover) against
 * CompressionStream/DecompressionStream("deflate-raw") (no sync flush: one stream per message, so
 * no context takeover is possible). Messages of 1 KiB, 64 KiB and 1 MiB of compressible text.
 *
 *   deno run -A bench/compression_bench.ts
 *   bun bench/compression_bench.ts
 */

import * as zlib from "node:zlib";

const SIZES = [1024, 64 * 1024, 1024 * 1024];
const BUDGET_MS = 1500;
// A vocabulary of 2,000 random "words": text that compresses about 2.5:1, like chat or JSON.
let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
const words = Array.from({ length: 2000 }, () => {
  let word = "";
  for (let i = 0, n = 3 + Math.floor(random() * 7); i < n; i++) {
    word += String.fromCharCode(97 + Math.floor(random() * 26));
  }
  return word + " ";
});

function message(size: number): Uint8Array {
  const out = new Uint8Array(size);
  const encoder = new TextEncoder();
  let state = 1;
  let at = 0;
  while (at < size) {
    state = (state * 1103515245 + 12345) >>> 0;
    const word = encoder.encode(words[state % words.length]);
    out.set(word.subarray(0, size - at), at);
    at += word.length;
  }
  return out;
}

function zlibDeflater(level: number, takeover: boolean) {
  const stream = zlib.createDeflateRaw({ level, chunkSize: 64 * 1024 });
  let chunks: Uint8Array[] = [];
  stream.on("data", (c: Uint8Array) => chunks.push(c));
  return async (data: Uint8Array): Promise<number> => {
    stream.write(data);
    await new Promise<void>((r) => stream.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    const length = chunks.reduce((n, c) => n + c.length, 0);
    chunks = [];
    if (!takeover) stream.reset();
    return length - 4;
  };
}

function zlibInflater() {
  const stream = zlib.createInflateRaw({ chunkSize: 64 * 1024 });
  let length = 0;
  stream.on("data", (c: Uint8Array) => length += c.length);
  return async (data: Uint8Array): Promise<number> => {
    length = 0;
    stream.write(data);
    stream.write(new Uint8Array([0, 0, 0xff, 0xff]));
    await new Promise<void>((r) => stream.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    return length;
  };
}

/** One message deflated (level 1) and sync-flushed, trailer removed, as on the wire. */
async function syncFlushed(data: Uint8Array): Promise<Uint8Array> {
  const stream = zlib.createDeflateRaw({ level: 1 });
  const chunks: Uint8Array[] = [];
  stream.on("data", (c: Uint8Array) => chunks.push(c));
  stream.write(data);
  await new Promise<void>((r) => stream.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
  stream.close();
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all.subarray(0, all.length - 4);
}

async function drain(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const part of readable) {
    parts.push(part);
    length += part.length;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** CompressionStream: a whole deflate-raw stream per message (BFINAL set, no trailer to strip). */
async function csDeflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new CompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  writer.write(data as Uint8Array<ArrayBuffer>);
  writer.close();
  return await drain(stream.readable);
}

async function csInflate(data: Uint8Array): Promise<number> {
  const stream = new DecompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  writer.write(data as Uint8Array<ArrayBuffer>);
  writer.close();
  return (await drain(stream.readable)).length;
}

async function rate(fn: () => Promise<unknown>, bytes: number): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const started = performance.now();
  let n = 0;
  while (performance.now() - started < BUDGET_MS) {
    await fn();
    n++;
  }
  const seconds = (performance.now() - started) / 1000;
  return (n * bytes) / seconds / 1024 / 1024;
}

const runtime = "Bun" in globalThis ? "bun" : "deno";
const rows: string[] = [];
for (const size of SIZES) {
  const data = message(size);
  const label = size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : `${size / 1024} KiB`;
  for (const level of [1, 6]) {
    for (const takeover of [true, false]) {
      const deflate = zlibDeflater(level, takeover);
      const compressedLength = await deflate(data);
      const out = await rate(() => deflate(data), size);
      rows.push(
        `| ${runtime} | ${label} | node:zlib level ${level}, ${
          takeover ? "context takeover" : "no takeover"
        } | ${out.toFixed(0)} | ${(size / compressedLength).toFixed(1)} |`,
      );
    }
  }
  const cs = await csDeflate(data);
  const csOut = await rate(() => csDeflate(data), size);
  rows.push(
    `| ${runtime} | ${label} | CompressionStream (no takeover possible) | ${csOut.toFixed(0)} | ${
      (size / cs.length).toFixed(1)
    } |`,
  );
  // Inflate: zlib over a message sync-flushed without takeover; DecompressionStream over cs.
  const flushed = await syncFlushed(data);
  const inflate = zlibInflater();
  const zin = await rate(() => inflate(flushed), size);
  const din = await rate(() => csInflate(cs), size);
  rows.push(`| ${runtime} | ${label} | inflate: node:zlib stream | ${zin.toFixed(0)} | |`);
  rows.push(`| ${runtime} | ${label} | inflate: DecompressionStream | ${din.toFixed(0)} | |`);
}
console.log("| runtime | message | codec | MiB/s (input) | ratio |");
console.log("| --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);

/**
 * Reading a transport's bytes chunk by chunk, with as little allocation as the stream allows.
 *
 * For a byte stream (Deno's sockets) reads go into a buffer of our own through a BYOB reader,
 * and the same buffer is used again for the next read, so a busy connection allocates nothing
 * per read (Deno's default reader allocates 64 KiB for every read) and an idle one holds a small
 * buffer instead of 64 KiB. The buffer follows the traffic: twice the last read, between 1 and
 * 64 KiB. Other streams (Bun's and Node's, built by our adapters) are read with their default reader.
 *
 * A chunk is valid until the next `read()`: whoever keeps bytes must copy them, as the frame
 * parser and the head reader do.
 * @module
 */

import type { Transport } from "../transport.ts";

/** The part of a stream reader the handshake and the connection use. */
export interface ChunkReader {
  /**
   * True when every chunk is a fresh buffer the reader never touches again (so its bytes may be
   * kept without a copy); false when the next read reuses the memory.
   */
  readonly chunksAreFresh: boolean;
  /** The next chunk, or `done` at the end of the stream. */
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /** Stops reading and releases the socket's read side. */
  cancel(reason?: unknown): Promise<void>;
}

/**
 * An idle connection holds one buffer of this size in its pending read, so it is kept small; a
 * busy connection's buffer grows with its reads at once.
 */
const MIN_BUFFER = 1024;
const MAX_BUFFER = 64 * 1024;

/** A reader for a transport's bytes: BYOB with a reused buffer when its stream is a byte stream. */
export function openChunkReader(
  transport: Pick<Transport, "readable" | "readableIsByteStream">,
): ChunkReader {
  const readable = transport.readable;
  return transport.readableIsByteStream
    ? new ByobChunkReader(readable.getReader({ mode: "byob" }))
    : new DefaultChunkReader(readable.getReader());
}

/** Chunks as the stream enqueued them: each is the reader's to keep. */
class DefaultChunkReader implements ChunkReader {
  readonly chunksAreFresh = true;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>) {
    this.#reader = reader;
  }

  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    return this.#reader.read();
  }

  cancel(reason?: unknown): Promise<void> {
    return this.#reader.cancel(reason);
  }
}

class ByobChunkReader implements ChunkReader {
  readonly chunksAreFresh = false;
  readonly #reader: ReadableStreamBYOBReader;
  /** The buffer to read into next; it comes back from each read, moved to a new ArrayBuffer. */
  #buffer: ArrayBuffer | null = new ArrayBuffer(MIN_BUFFER);

  constructor(reader: ReadableStreamBYOBReader) {
    this.#reader = reader;
  }

  async read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const buffer = this.#buffer ?? new ArrayBuffer(MIN_BUFFER);
    this.#buffer = null;
    const result = await this.#reader.read(new Uint8Array(buffer));
    const chunk = result.value;
    if (result.done || chunk === undefined) return { done: true, value: undefined };
    const wanted = Math.min(MAX_BUFFER, Math.max(MIN_BUFFER, chunk.length * 2));
    const returned = chunk.buffer as ArrayBuffer;
    this.#buffer = returned.byteLength === wanted ? returned : new ArrayBuffer(wanted);
    return { done: false, value: chunk };
  }

  cancel(reason?: unknown): Promise<void> {
    return this.#reader.cancel(reason);
  }
}

/**
 * A raw WebSocket client over `node:net` for the pub/sub and scale-out tests. Unlike `RawClient`
 * it parses frames as they arrive (amortized linear time, so megabytes of published data stay
 * cheap) and keeps every frame it has received; it can stop reading (`pause`) to play a slow
 * subscriber.
 * Frames are read and written with the test-side codec in `tests/helpers/wire.ts`, not ours.
 * @module
 */

import net from "node:net";
import { upgradeRequest } from "./raw_client.ts";
import { waitUntil } from "./timing.ts";
import { clientFrame, closeCodeOf, closePayload, OP, readFrame, type ServerFrame } from "./wire.ts";

const decoder = new TextDecoder();

/** Options for {@link StreamClient.open}. */
export interface OpenOptions {
  path?: string;
  headers?: Record<string, string | null>;
  /** Ms to wait for the 101. */
  timeoutMs?: number;
}

/** One raw WebSocket client connection. */
export class StreamClient {
  readonly socket: net.Socket;
  /** Every frame received, in order (control frames included). */
  readonly frames: ServerFrame[] = [];
  /** The HTTP status of the handshake response. */
  status = 0;
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #headDone = false;
  #ended = false;
  #wakers = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    const end = () => {
      this.#ended = true;
      this.#wake();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", end);
  }

  /** Connects to 127.0.0.1:port and completes the upgrade; throws unless the answer is 101. */
  static async open(port: number, options: OpenOptions = {}): Promise<StreamClient> {
    const client = await new Promise<StreamClient>((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.off("error", reject);
        resolve(new StreamClient(socket));
      });
      socket.once("error", reject);
    });
    client.socket.write(upgradeRequest(port, { path: options.path, headers: options.headers }));
    await client.waitUntil(() => client.#headDone, options.timeoutMs ?? 10_000, "the 101");
    if (client.status !== 101) {
      client.destroy();
      throw new Error(`expected 101, got ${client.status}`);
    }
    return client;
  }

  /** Whether the server has closed TCP (or the socket failed). */
  get ended(): boolean {
    return this.#ended;
  }

  /** The data frames (text and binary) received so far. */
  get messages(): ServerFrame[] {
    return this.frames.filter((f) => f.opcode === OP.text || f.opcode === OP.binary);
  }

  /** The received text messages, decoded. */
  get texts(): string[] {
    return this.frames.filter((f) => f.opcode === OP.text).map((f) => decoder.decode(f.payload));
  }

  /** The server's close frame, if one has arrived. */
  get closeFrame(): ServerFrame | undefined {
    return this.frames.find((f) => f.opcode === OP.close);
  }

  /** The code in the server's close frame, if one has arrived. */
  get closeCode(): number | undefined {
    const frame = this.closeFrame;
    return frame === undefined ? undefined : closeCodeOf(frame);
  }

  /** Sends a masked text frame. */
  sendText(text: string): void {
    this.socket.write(clientFrame(OP.text, text));
  }

  /** Sends raw bytes. */
  write(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }

  /** Sends a close frame with `code`. */
  sendClose(code = 1000, reason = ""): void {
    this.socket.write(clientFrame(OP.close, closePayload(code, reason)));
  }

  /** Stops reading from the socket: the kernel buffers fill and the server's writes stall. */
  pause(): void {
    this.socket.pause();
  }

  /** Reads again. */
  resume(): void {
    this.socket.resume();
  }

  /** Drops TCP at once. */
  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Resolves once `condition()` holds; it is checked now and after every frame and on close.
   * Rejects after `ms` with a message naming `what`.
   */
  waitUntil(condition: () => boolean, ms: number, what: string): Promise<void> {
    return waitUntil(condition, ms, what, this.#wakers);
  }

  #onData(chunk: Uint8Array): void {
    this.#append(chunk);
    if (!this.#headDone) {
      const head = findHeadEnd(this.#buffer, this.#start, this.#end);
      if (head === -1) return;
      const text = decoder.decode(this.#buffer.subarray(this.#start, head));
      this.status = Number(text.split(" ")[1]);
      this.#start = head + 4;
      this.#headDone = true;
    }
    while (true) {
      const next = readFrame(this.#buffer.subarray(0, this.#end), this.#start);
      if (next === null) break;
      this.frames.push(next.frame);
      this.#start = next.end;
    }
    this.#wake();
  }

  #append(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buffer.length) {
      const live = this.#end - this.#start;
      const size = Math.max(this.#buffer.length, (live + chunk.length) * 2);
      if (size === this.#buffer.length) this.#buffer.copyWithin(0, this.#start, this.#end);
      else {
        const next = new Uint8Array(size);
        next.set(this.#buffer.subarray(this.#start, this.#end), 0);
        this.#buffer = next;
      }
      this.#start = 0;
      this.#end = live;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}

function findHeadEnd(buffer: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

/**
 * A raw TCP client for conformance tests, over `node:net` (which both Deno and Bun provide), so
 * tests can send exact bytes — valid or not — and see exactly what the server sends back.
 * @module
 */

import net from "node:net";
import { concat, latin1 } from "./bytes.ts";
import { sleep } from "./timing.ts";
import { readFrame, type ServerFrame } from "./wire.ts";

/** An example key from RFC 6455 §1.3 and its accept value. */
export const SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
export const SAMPLE_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** A parsed HTTP response head. */
export interface HttpResponse {
  status: number;
  headers: Map<string, string>;
  /** Whatever followed the head in the bytes read so far (a body). */
  body: string;
}

/** Options for {@link upgradeRequest}. */
export interface RequestSpec {
  path?: string;
  key?: string;
  /** Header lines to add, or to replace (`null` drops a default header). */
  headers?: Record<string, string | null>;
}

/** A valid upgrade request, with changes. */
export function upgradeRequest(port: number, spec: RequestSpec = {}): string {
  const headers: Record<string, string | null> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": spec.key ?? SAMPLE_KEY,
    "Sec-WebSocket-Version": "13",
    ...spec.headers,
  };
  let out = `GET ${spec.path ?? "/"} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value !== null) out += `${name}: ${value}\r\n`;
  }
  return out + "\r\n";
}

/** One raw connection. Everything it receives is kept in order. */
export class RawClient {
  readonly socket: net.Socket;
  #buffer = new Uint8Array(0);
  #ended = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#buffer = concat(this.#buffer, chunk);
      this.#wake();
    });
    const end = () => {
      this.#ended = true;
      this.#wake();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", end);
  }

  /** Connects to 127.0.0.1:port. */
  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Connects and completes a valid handshake; the 101 is checked. */
  static async open(port: number, spec: RequestSpec = {}): Promise<RawClient> {
    const client = await RawClient.connect(port);
    client.write(upgradeRequest(port, spec));
    const response = await client.readResponseHead();
    if (response.status !== 101) throw new Error(`expected 101, got ${response.status}`);
    return client;
  }

  /** Whether the server has closed the connection (FIN or reset). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Sends bytes (or a string as UTF-8/latin1 as given). */
  write(data: Uint8Array | string): void {
    this.socket.write(data);
  }

  /** Sends bytes one piece at a time with a pause between, to split them across reads. */
  async writeInPieces(data: Uint8Array, pieceSize: number, pauseMs = 2): Promise<void> {
    for (let i = 0; i < data.length; i += pieceSize) {
      this.write(data.subarray(i, i + pieceSize));
      await sleep(pauseMs);
    }
  }

  /** Reads the HTTP response head (and keeps any bytes after it for frames). */
  async readResponseHead(timeoutMs = 5000): Promise<HttpResponse> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const text = latin1(this.#buffer);
      const end = text.indexOf("\r\n\r\n");
      if (end !== -1) {
        const lines = text.slice(0, end).split("\r\n");
        const status = Number(lines[0].split(" ")[1]);
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(":");
          headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
        }
        this.#buffer = this.#buffer.slice(end + 4);
        return { status, headers, body: latin1(this.#buffer) };
      }
      if (this.#ended) {
        throw new Error(`connection closed before a response head: ${JSON.stringify(text)}`);
      }
      await this.#wait(deadline);
    }
  }

  /** Reads a whole HTTP response: head, then the body until the server closes. */
  async readResponse(timeoutMs = 5000): Promise<HttpResponse> {
    const head = await this.readResponseHead(timeoutMs);
    await this.waitForEnd(timeoutMs);
    return { ...head, body: latin1(this.#buffer) };
  }

  /** The next frame from the server. */
  async nextFrame(timeoutMs = 5000): Promise<ServerFrame> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const next = readFrame(this.#buffer);
      if (next !== null) {
        this.#buffer = this.#buffer.slice(next.end);
        return next.frame;
      }
      if (this.#ended) throw new Error("connection closed while waiting for a frame");
      await this.#wait(deadline);
    }
  }

  /**
   * Reads frames until the server's close frame, then waits for the server to close TCP. Returns
   * every frame read, the close frame last.
   */
  async readUntilClose(timeoutMs = 5000): Promise<ServerFrame[]> {
    const frames: ServerFrame[] = [];
    while (true) {
      const frame = await this.nextFrame(timeoutMs);
      frames.push(frame);
      if (frame.opcode === 8) break;
    }
    await this.waitForEnd(timeoutMs);
    return frames;
  }

  /** Resolves once the server has closed the connection; rejects after the timeout. */
  async waitForEnd(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#ended) await this.#wait(deadline);
  }

  /** Bytes received and not yet consumed. */
  get pending(): Uint8Array {
    return this.#buffer;
  }

  /** Closes the socket from this side. */
  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #wait(deadline: number): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.reject(new Error("timed out waiting for the server"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for the server")), left);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * A raw TCP server (node:net, 127.0.0.1, a free port) that plays a WebSocket server byte by byte,
 * well or badly, so the client can be tested against answers no real server would give. Frames
 * are built and read with tests/helpers/wire.ts, which shares no code with src/.
 * @module
 */

import net from "node:net";
import { createHash } from "node:crypto";
import { concat } from "../helpers/bytes.ts";
import { readFrame, type ServerFrame } from "../helpers/wire.ts";
import { WAIT_MS, within } from "../helpers/timing.ts";

/** The accept value for a key, computed independently of src/. */
export function acceptFor(key: string): string {
  return createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
}

/** One accepted connection, from the server's side. */
export class RawPeer {
  readonly socket: net.Socket;
  #buffer = new Uint8Array(0);
  #headDone = false;
  #ended = false;
  #wake: (() => void) | null = null;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#buffer = concat(this.#buffer, chunk);
      this.#wake?.();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on("error", () => {});
  }

  async #waitForData(what: string): Promise<void> {
    if (this.#ended) throw new Error(`${what}: the client closed the connection`);
    await within(new Promise<void>((resolve) => this.#wake = resolve), WAIT_MS, what);
  }

  /** The request head; its headers with lower-case names. */
  async request(): Promise<{ line: string; headers: Map<string, string>; key: string }> {
    while (true) {
      const text = new TextDecoder("latin1").decode(this.#buffer);
      const end = text.indexOf("\r\n\r\n");
      if (end !== -1) {
        this.#buffer = this.#buffer.slice(end + 4);
        this.#headDone = true;
        const [line, ...fields] = text.slice(0, end).split("\r\n");
        const headers = new Map<string, string>();
        for (const field of fields) {
          const colon = field.indexOf(":");
          headers.set(field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim());
        }
        return { line, headers, key: headers.get("sec-websocket-key") ?? "" };
      }
      await this.#waitForData("reading the request");
    }
  }

  /** Answers a 101 for the request's key, with extra header lines. */
  async accept(extraHeaders: string[] = []): Promise<void> {
    const { key } = await this.request();
    this.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n` +
        extraHeaders.map((h) => h + "\r\n").join("") + "\r\n",
    );
  }

  write(data: string | Uint8Array): void {
    this.socket.write(typeof data === "string" ? new TextEncoder().encode(data) : data);
  }

  /** The next frame from the client; null once the client has closed TCP. */
  async frame(): Promise<ServerFrame | null> {
    if (!this.#headDone) throw new Error("read the request first");
    while (true) {
      const next = readFrame(this.#buffer);
      if (next !== null) {
        this.#buffer = this.#buffer.slice(next.end);
        return next.frame;
      }
      if (this.#ended) return null;
      await this.#waitForData("reading a frame");
    }
  }

  /** Resolves once the client has closed (or reset) the TCP connection. */
  async ended(): Promise<void> {
    while (!this.#ended) {
      await this.#waitForData("waiting for the client to close TCP").catch((error) => {
        if (!this.#ended) throw error;
      });
    }
  }
}

/** A raw server; `onPeer` runs for every connection. Errors it throws are kept for the test. */
export interface RawServer {
  url: string;
  port: number;
  /** Errors thrown by `onPeer`. */
  errors: unknown[];
  close(): Promise<void>;
}

export function startRawServer(
  onPeer: (peer: RawPeer) => Promise<void> | void,
): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const errors: unknown[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    Promise.resolve()
      .then(() => onPeer(new RawPeer(socket)))
      .catch((error) => errors.push(error));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo;
      resolve({
        url: `ws://127.0.0.1:${address.port}/`,
        port: address.port,
        errors,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

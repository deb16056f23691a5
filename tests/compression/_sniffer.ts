/**
 * A TCP relay that watches WebSocket frames go by: after each direction's HTTP head it reads
 * frame headers (skipping payloads without keeping them) and counts data frames with and without
 * RSV1, so a test can see that a real peer really compressed. Used between a peer and a server.
 * @module
 */

import net from "node:net";

/** What one direction carried. */
export interface DirectionStats {
  /** Message-starting data frames (text/binary) with RSV1 set. */
  compressed: number;
  /** Message-starting data frames without RSV1. */
  uncompressed: number;
  /** Payload bytes of data frames on the wire. */
  wireBytes: number;
}

/** A running relay. */
export interface Sniffer {
  port: number;
  /** Client to server. */
  up: DirectionStats;
  /** Server to client. */
  down: DirectionStats;
  close(): void;
}

class FrameWatcher {
  #headDone = false;
  #headTail = "";
  #header: number[] = [];
  #skip = 0;
  readonly stats: DirectionStats;
  constructor(stats: DirectionStats) {
    this.stats = stats;
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    if (!this.#headDone) {
      const text = this.#headTail + String.fromCharCode(...chunk.subarray(0, 8192));
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) {
        this.#headTail = text.slice(-3);
        return;
      }
      this.#headDone = true;
      at = end + 4 - this.#headTail.length;
    }
    while (at < chunk.length) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, chunk.length - at);
        this.#skip -= take;
        at += take;
        continue;
      }
      this.#header.push(chunk[at++]);
      const h = this.#header;
      if (h.length < 2) continue;
      const short = h[1] & 127;
      const lengthBytes = short === 126 ? 2 : short === 127 ? 8 : 0;
      const maskBytes = h[1] & 128 ? 4 : 0;
      if (h.length < 2 + lengthBytes + maskBytes) continue;
      let length = short;
      if (lengthBytes > 0) {
        length = 0;
        for (let i = 0; i < lengthBytes; i++) length = length * 256 + h[2 + i];
      }
      const opcode = h[0] & 15;
      if (opcode === 1 || opcode === 2) {
        if (h[0] & 0x40) this.stats.compressed++;
        else this.stats.uncompressed++;
      }
      if (opcode < 8) this.stats.wireBytes += length;
      this.#header = [];
      this.#skip = length;
    }
  }
}

/** Starts a relay on 127.0.0.1 to `targetPort`. */
export function startSniffer(targetPort: number): Promise<Sniffer> {
  const up: DirectionStats = { compressed: 0, uncompressed: 0, wireBytes: 0 };
  const down: DirectionStats = { compressed: 0, uncompressed: 0, wireBytes: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const target = net.connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(target);
    const upWatcher = new FrameWatcher(up);
    const downWatcher = new FrameWatcher(down);
    client.on("data", (chunk: Uint8Array) => {
      upWatcher.push(chunk);
      if (!target.write(chunk)) client.pause();
    });
    target.on("drain", () => client.resume());
    target.on("data", (chunk: Uint8Array) => {
      downWatcher.push(chunk);
      if (!client.write(chunk)) target.pause();
    });
    client.on("drain", () => target.resume());
    const end = () => {
      client.destroy();
      target.destroy();
      sockets.delete(client);
      sockets.delete(target);
    };
    client.on("close", end);
    target.on("close", end);
    client.on("error", end);
    target.on("error", end);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        up,
        down,
        close() {
          for (const socket of sockets) socket.destroy();
          server.close();
        },
      });
    });
  });
}

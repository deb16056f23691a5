// Load generators for the hardening tests, run as a separate Node process so that their sockets
// (thousands of them) and their CPU stay out of the server's process:
//
//   node tests/hardening/_driver.mjs <mode> '<json config>'
//
// Raw node:net sockets speaking just enough RFC 6455 (masked frames out, unmasked frames in).
// Progress lines go to stdout as `READY ...`; the last line is a JSON report. The process exits
// by itself after `maxMs` whatever happens.

import net from "node:net";
import process from "node:process";

const [mode, rawConfig] = process.argv.slice(2);
const config = JSON.parse(rawConfig ?? "{}");
const { port } = config;
setTimeout(() => {
  report({ error: `driver gave up after ${config.maxMs} ms` });
  process.exit(2);
}, config.maxMs ?? 60_000).unref();

function report(data) {
  process.stdout.write(JSON.stringify(data) + "\n");
}

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
function request(path = "/") {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

const MASK = Buffer.from([0x11, 0x22, 0x33, 0x44]);
/** A masked client frame. */
function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(n, 6);
  }
  MASK.copy(out, head);
  for (let i = 0; i < n; i++) out[head + 4 + i] = payload[i] ^ MASK[i & 3];
  return out;
}
const text = (s) => frame(1, Buffer.from(s));
const closeFrame = (code) => {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(code);
  return frame(8, p);
};

/**
 * One WebSocket client connection. `onFrame(opcode, payload)` gets every server frame; a close
 * frame is answered with a close frame carrying the same code, as RFC 6455 suggests.
 */
class Client {
  constructor(path = "/") {
    this.path = path;
    this.buffer = Buffer.alloc(0);
    this.open = false;
    this.ended = false;
    this.closeCode = null;
    this.closeReason = null;
    this.onFrame = () => {};
    this.onEnd = () => {};
  }

  connect() {
    return new Promise((resolve, reject) => {
      const socket = this.socket = net.connect({ host: "127.0.0.1", port });
      socket.setNoDelay(true);
      socket.on("connect", () => socket.write(request(this.path)));
      socket.on("data", (chunk) => this.#data(chunk, resolve, reject));
      socket.on("error", (error) => {
        if (!this.open) reject(error);
        this.error = String(error);
      });
      socket.on("close", () => {
        this.ended = true;
        if (!this.open) reject(new Error("closed during the handshake"));
        this.onEnd();
      });
    });
  }

  #data(chunk, resolve, reject) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (!this.open) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end === -1) return;
      const status = this.buffer.subarray(0, 12).toString("latin1");
      if (!status.startsWith("HTTP/1.1 101")) {
        return reject(new Error(`handshake answered ${status}`));
      }
      this.open = true;
      this.buffer = this.buffer.subarray(end + 4);
      resolve(this);
    }
    let at = 0;
    const buf = this.buffer;
    while (buf.length - at >= 2) {
      let len = buf[at + 1] & 0x7f;
      let pos = at + 2;
      if (len === 126) {
        if (buf.length - pos < 2) break;
        len = buf.readUInt16BE(pos);
        pos += 2;
      } else if (len === 127) {
        if (buf.length - pos < 8) break;
        len = buf.readUInt32BE(pos + 4);
        pos += 8;
      }
      if (buf.length - pos < len) break;
      const opcode = buf[at] & 0x0f;
      const payload = buf.subarray(pos, pos + len);
      at = pos + len;
      if (opcode === 8) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.closeReason = payload.subarray(2).toString();
        if (!this.socket.destroyed) {
          this.socket.write(closeFrame(this.closeCode === 1005 ? 1000 : this.closeCode));
        }
      }
      this.onFrame(opcode, payload);
    }
    this.buffer = at === buf.length ? Buffer.alloc(0) : buf.subarray(at);
  }

  send(bytes) {
    if (!this.socket.destroyed) return this.socket.write(bytes);
    return false;
  }
}

/** Opens `count` clients, `concurrency` handshakes at a time. */
async function openMany(count, concurrency, path = (i) => `/?id=${i}`) {
  const clients = new Array(count);
  let next = 0;
  const failures = [];
  async function worker() {
    while (next < count) {
      const i = next++;
      const client = new Client(path(i));
      try {
        clients[i] = await client.connect();
      } catch (error) {
        failures.push(String(error));
        clients[i] = null;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { clients, failures };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const modes = {
  /** Sockets that send a valid upgrade request one byte per `intervalMs`. */
  async slowloris() {
    const { count, intervalMs } = config;
    const request_ = Buffer.from(request("/"));
    const results = [];
    let connected = 0;
    await new Promise((allConnected) => {
      for (let i = 0; i < count; i++) {
        const socket = net.connect({ host: "127.0.0.1", port });
        const state = { sent: 0, answer: "", closed: false, openedAt: 0, closedAt: 0 };
        results.push(state);
        let timer;
        socket.on("connect", () => {
          state.openedAt = Date.now();
          if (++connected === count) allConnected();
          const drip = () => {
            if (socket.destroyed || state.sent >= request_.length) return;
            socket.write(request_.subarray(state.sent, state.sent + 1));
            state.sent++;
            timer = setTimeout(drip, intervalMs);
          };
          drip();
        });
        socket.on("data", (chunk) => state.answer += chunk.toString("latin1"));
        socket.on("error", (error) => state.error = error.code ?? String(error));
        socket.on("close", () => {
          clearTimeout(timer);
          state.closed = true;
          state.closedAt = Date.now();
        });
      }
    });
    process.stdout.write(`READY ${connected}\n`);
    while (results.some((r) => !r.closed)) await sleep(50);
    report({
      count: results.length,
      closed: results.filter((r) => r.closed).length,
      maxBytesSent: Math.max(...results.map((r) => r.sent)),
      answers: tally(results.map((r) => r.answer.split("\r\n")[0] || "(nothing)")),
      errors: tally(results.map((r) => r.error ?? "none")),
      maxOpenMs: Math.max(...results.map((r) => r.closedAt - r.openedAt)),
    });
  },

  /**
   * `count` sockets that each send `payload` (base64; empty for none) as soon as they connect and
   * then nothing more: a TLS client that never says hello or stops halfway through it, a request
   * whose body never comes. Reports how long each stayed open and what it was answered: at least
   * (`minOpenMs`, from the moment it asked to connect, which the server's accept cannot precede)
   * and at most (`maxOpenMs`, from its `connect` event, which 500 sockets at once can delay).
   */
  async stall() {
    const { count } = config;
    const payload = Buffer.from(config.payload ?? "", "base64");
    const results = [];
    let connected = 0;
    await new Promise((allConnected) => {
      for (let i = 0; i < count; i++) {
        const socket = net.connect({ host: "127.0.0.1", port });
        const state = {
          answer: "",
          closed: false,
          startedAt: Date.now(),
          openedAt: 0,
          closedAt: 0,
        };
        results.push(state);
        socket.on("connect", () => {
          state.openedAt = Date.now();
          if (payload.length > 0) socket.write(payload);
          if (++connected === count) allConnected();
        });
        socket.on("data", (chunk) => state.answer += chunk.toString("latin1"));
        socket.on("error", (error) => state.error = error.code ?? String(error));
        socket.on("close", () => {
          state.closed = true;
          state.closedAt = Date.now();
        });
      }
    });
    process.stdout.write(`READY ${connected}\n`);
    while (results.some((r) => !r.closed)) await sleep(50);
    report({
      count: results.length,
      closed: results.filter((r) => r.closed).length,
      answers: tally(results.map((r) => r.answer.split("\r\n")[0] || "(nothing)")),
      errors: tally(results.map((r) => r.error ?? "none")),
      minOpenMs: Math.min(...results.map((r) => r.closedAt - r.startedAt)),
      maxOpenMs: Math.max(...results.map((r) => r.closedAt - r.openedAt)),
    });
  },

  /** `connections` clients all open at once, each echoes `messages` numbered text messages. */
  async load() {
    const { connections, messages, concurrency } = config;
    const startedAt = Date.now();
    const { clients, failures } = await openMany(connections, concurrency);
    const open = clients.filter((c) => c !== null);
    process.stdout.write(`READY ${open.length}\n`);
    const openedMs = Date.now() - startedAt;
    // Wait for the go-ahead (the test samples the server's memory with everything open).
    await new Promise((resolve) => process.stdin.once("data", resolve));
    const echoStart = Date.now();
    let outOfOrder = 0;
    let extra = 0;
    let received = 0;
    await Promise.all(open.map((client, index) =>
      new Promise((resolve) => {
        let expected = 0;
        client.onFrame = (opcode, payload) => {
          if (opcode !== 1) return;
          received++;
          const seq = Number(payload.toString().split(":")[1]);
          if (expected >= messages) extra++;
          else if (seq !== expected) outOfOrder++;
          expected++;
          if (expected === messages) resolve();
        };
        client.onEnd = resolve;
        const batch = [];
        for (let m = 0; m < messages; m++) batch.push(text(`${index}:${m}:${"x".repeat(16)}`));
        client.send(Buffer.concat(batch));
      })
    ));
    const echoMs = Date.now() - echoStart;
    // Close every connection (1000) and wait for the server to close TCP.
    await Promise.all(open.map((client) =>
      new Promise((resolve) => {
        if (client.ended) return resolve();
        client.onEnd = resolve;
        client.onFrame = () => {};
        client.send(closeFrame(1000));
      })
    ));
    report({
      connections: open.length,
      failures: failures.slice(0, 5),
      failureCount: failures.length,
      received,
      expected: open.length * messages,
      outOfOrder,
      extra,
      closeCodes: tally(open.map((c) => c.closeCode)),
      openedMs,
      echoMs,
    });
    process.exit(0);
  },

  /** One client that sends frames as fast as the socket takes them and never reads. */
  async flood() {
    const { seconds, payloadSize } = config;
    const client = await new Client("/?flood").connect();
    client.socket.pause(); // never read: the server's echoes pile up in its send buffer
    client.onFrame = () => {};
    const payload = frame(2, Buffer.alloc(payloadSize, 0x61));
    const batch = Buffer.concat(
      Array.from({ length: Math.max(1, 65536 / payload.length | 0) }, () => payload),
    );
    let bytes = 0;
    const until = Date.now() + seconds * 1000;
    process.stdout.write("READY\n");
    while (Date.now() < until && !client.ended) {
      bytes += batch.length;
      if (!client.send(batch)) {
        await Promise.race([
          new Promise((resolve) => client.socket.once("drain", resolve)),
          sleep(200),
        ]);
      }
    }
    report({ bytesSent: bytes, ended: client.ended, error: client.error ?? null });
    client.socket.destroy();
    process.exit(0);
  },

  /**
   * `clients` clients each send numbered messages continuously (at most `window` unanswered),
   * until the server closes. Reports what each saw. A line on stdin marks the moment: each client
   * notes how many it had sent by then (`sentAtMark`), and `MARKED {index: sentAtMark}` is printed.
   */
  async stream() {
    const { clients: count, window: windowSize } = config;
    const { clients, failures } = await openMany(count, 50);
    const open = clients.filter((c) => c !== null);
    const reports = [];
    const marks = open.map(() => null);
    const sentSoFar = open.map(() => 0);
    process.stdin.once("data", () => {
      for (let i = 0; i < open.length; i++) marks[i] = sentSoFar[i];
      process.stdout.write(`MARKED ${JSON.stringify(Object.fromEntries(marks.entries()))}\n`);
    });
    let warm = 0;
    process.stdout.write(`OPEN ${open.length}\n`);
    await Promise.all(open.map((client, index) =>
      new Promise((resolve) => {
        let sent = 0;
        let echoed = 0;
        let outOfOrder = 0;
        let afterClose = 0;
        let closed = false;
        const pump = () => {
          while (!closed && !client.ended && sent - echoed < windowSize) {
            client.send(text(`${index}:${sent++}`));
          }
          sentSoFar[index] = sent;
        };
        client.onFrame = (opcode, payload) => {
          if (opcode === 8) {
            closed = true;
            return;
          }
          if (opcode !== 1) return;
          if (closed) afterClose++;
          const seq = Number(payload.toString().split(":")[1]);
          if (seq !== echoed) outOfOrder++;
          echoed++;
          if (echoed === 20 && ++warm === open.length) process.stdout.write("READY\n");
          pump();
        };
        client.onEnd = () => {
          reports.push({
            id: index,
            sent,
            sentAtMark: marks[index],
            echoed,
            outOfOrder,
            afterClose,
            closeCode: client.closeCode,
            closeReason: client.closeReason,
          });
          resolve();
        };
        pump();
      })
    ));
    report({ failures: failures.slice(0, 5), clients: reports });
    process.exit(0);
  },
};

function tally(values) {
  const out = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

await modes[mode]();

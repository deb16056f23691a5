/**
 * Interop scenarios, run by a WebSocket client that edgews did not write: Deno's or Bun's
 * built-in `WebSocket`, or the `ws` package on Node. Plain JavaScript on purpose, so that Node 20
 * runs it without a TypeScript step; the same code runs in-process under `deno test` and
 * `bun test` and in child processes (see peer.mjs).
 *
 * Each scenario connects to the URL it is given, does its exchange and resolves with plain,
 * JSON-ready observations (what came back, what the close event said). It judges nothing: the
 * tests compare the observations with what RFC 6455 says they should be.
 * @module
 */

/** How long any one step (open, a reply, a close event) may take, in ms. */
export const STEP_TIMEOUT = 20_000;

/** Text messages for the round trip: ASCII, empty, 2-, 3- and 4-byte UTF-8, a NUL, long ones. */
export const TEXT_MESSAGES = [
  "hello",
  "",
  "héllo wörld — ünïcödé",
  "日本語のテキスト",
  "emoji 🎉👍🏽 and a flag 🇳🇴",
  "nul \u0000 inside",
  "\uFEFFstarts with a byte order mark",
  "x".repeat(125),
  "€".repeat(50_000),
  "y".repeat(70_000) + "😀",
];

/** Close reasons, with non-ASCII text to check the UTF-8 of the reason too. */
export const CLIENT_CLOSE_REASON = "client bye ✓";
export const SERVER_CLOSE_REASON = "server bye ✓";

/** The 16 MiB of the large-message scenarios. */
export const BIG_SIZE = 16 * 1024 * 1024;

/** The payload of the server's ping in the server-ping scenario (the server sends it). */
export const SERVER_PING_PAYLOAD = "srv-ping ✓";
/** The payload of the client's ping in the client-ping scenario. */
export const CLIENT_PING_PAYLOAD = "cli-ping ✓";

/** Binary messages for the round trip, as byte arrays. */
export function binaryMessages() {
  const all = new Uint8Array(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  return [
    all,
    new Uint8Array(0),
    Uint8Array.from([0xff, 0xfe, 0xc0, 0x80]), // not UTF-8: must not be taken for text
    new TextEncoder().encode("looks like text"),
    pseudoRandomBytes(70_000, 7),
  ];
}

/** Deterministic bytes (xorshift32), the same on every runtime. */
export function pseudoRandomBytes(length, seed) {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 255;
  }
  return out;
}

/** About 16 MiB of text (as UTF-8) mixing 1-, 3- and 4-byte characters. */
export function bigText() {
  return "ab€😀".repeat(Math.floor(BIG_SIZE / 9));
}

/** Hex of bytes. */
export function hex(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += bytes[i].toString(16).padStart(2, "0");
  return out;
}

/** SHA-256 of bytes, as hex. */
export async function sha256(bytes) {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

/** The scenario names. */
export const SCENARIOS = [
  "text",
  "binary",
  "big-binary",
  "big-text",
  "client-ping",
  "server-ping",
  "close-client",
  "close-server",
  "protocol",
];

/**
 * Runs one scenario.
 * @param {typeof WebSocket} WebSocketImpl the client class
 * @param {"deno" | "bun" | "node" | "ws"} kind which client it is (for the non-standard ping APIs)
 * @param {string} url the server URL (with the path and query the test wants)
 * @param {string} scenario one of SCENARIOS
 */
export async function runScenario(WebSocketImpl, kind, url, scenario) {
  const session = new Session(WebSocketImpl, kind);
  try {
    switch (scenario) {
      case "text":
        return await textRoundTrip(session, url);
      case "binary":
        return await binaryRoundTrip(session, url);
      case "big-binary":
        return await bigBinary(session, url);
      case "big-text":
        return await bigTextRoundTrip(session, url);
      case "client-ping":
        return await clientPing(session, url);
      case "server-ping":
        return await serverPing(session, url);
      case "close-client":
        return await closeFromClient(session, url);
      case "close-server":
        return await closeFromServer(session, url);
      case "protocol":
        return await protocol(session, url);
      default:
        throw new Error(`unknown scenario ${scenario}`);
    }
  } finally {
    session.dispose();
  }
}

async function textRoundTrip(session, url) {
  const c = await session.open(url);
  for (const m of TEXT_MESSAGES) c.ws.send(m);
  const received = [];
  for (let i = 0; i < TEXT_MESSAGES.length; i++) received.push(describe(await c.next()));
  c.ws.close(1000);
  return { received, close: await c.closedEvent() };
}

async function binaryRoundTrip(session, url) {
  const c = await session.open(url);
  const messages = binaryMessages();
  for (const m of messages) c.ws.send(m);
  const received = [];
  for (let i = 0; i < messages.length; i++) received.push(describe(await c.next()));
  c.ws.close(1000);
  return { received, close: await c.closedEvent() };
}

async function bigBinary(session, url) {
  const c = await session.open(url);
  const payload = pseudoRandomBytes(BIG_SIZE, 16);
  const sent = { length: payload.length, sha256: await sha256(payload) };
  c.ws.send(payload);
  const reply = await c.next();
  const bytes = reply.type === "binary" ? reply.bytes : new TextEncoder().encode(reply.text);
  const received = { type: reply.type, length: bytes.length, sha256: await sha256(bytes) };
  c.ws.close(1000);
  return { sent, received, close: await c.closedEvent() };
}

async function bigTextRoundTrip(session, url) {
  const c = await session.open(url);
  const text = bigText();
  const utf8 = new TextEncoder().encode(text);
  const sent = { length: utf8.length, sha256: await sha256(utf8) };
  c.ws.send(text);
  const reply = await c.next();
  const bytes = reply.type === "text" ? new TextEncoder().encode(reply.text) : reply.bytes;
  const received = { type: reply.type, length: bytes.length, sha256: await sha256(bytes) };
  c.ws.close(1000);
  return { sent, received, close: await c.closedEvent() };
}

/** The client pings (ws and Bun's client can) and waits for the pong. */
async function clientPing(session, url) {
  const c = await session.open(url);
  if (typeof c.ws.ping !== "function") {
    c.ws.close(1000);
    await c.closedEvent();
    return { supported: false };
  }
  const payload = new TextEncoder().encode(CLIENT_PING_PAYLOAD);
  const pong = c.nextPong();
  c.ws.ping(payload);
  const pongPayload = hex(await pong);
  c.ws.send("after ping");
  const echo = describe(await c.next());
  c.ws.close(1000);
  return { supported: true, pongPayload, echo, close: await c.closedEvent() };
}

/**
 * The server pings on open (see the interop server); the client's automatic pong reaches the
 * server's `pong` handler, which then sends a text message with the pong's payload in hex.
 */
async function serverPing(session, url) {
  const c = await session.open(url);
  const message = describe(await c.next());
  c.ws.close(1000);
  return { message, pingsSeen: c.pings.map(hex), close: await c.closedEvent() };
}

async function closeFromClient(session, url) {
  const c = await session.open(url);
  c.ws.send("before close");
  const echo = describe(await c.next());
  c.ws.close(4000, CLIENT_CLOSE_REASON);
  return { echo, close: await c.closedEvent() };
}

/** The server sends a message and then closes with 4000 (see the interop server). */
async function closeFromServer(session, url) {
  const c = await session.open(url);
  const close = await c.closedEvent();
  return { received: c.drain().map(describe), close };
}

async function protocol(session, url) {
  const c = await session.open(url, ["chat", "superchat"]);
  const negotiated = c.ws.protocol;
  c.ws.send("which protocol?");
  const echo = describe(await c.next());
  c.ws.close(1000);
  return { protocol: negotiated, echo, close: await c.closedEvent() };
}

/** A message as JSON-ready data: its type and its text or hex bytes. */
function describe(message) {
  return message.type === "text"
    ? { type: "text", text: message.text }
    : { type: "binary", hex: hex(message.bytes) };
}

/** The sockets one scenario opened, so that all of them are closed whatever happens. */
class Session {
  constructor(WebSocketImpl, kind) {
    this.WebSocketImpl = WebSocketImpl;
    this.kind = kind;
    this.connections = [];
  }

  async open(url, protocols) {
    const ws = protocols === undefined
      ? new this.WebSocketImpl(url)
      : new this.WebSocketImpl(url, protocols);
    const c = new Connection(ws, this.kind);
    this.connections.push(c);
    await c.opened;
    return c;
  }

  dispose() {
    for (const c of this.connections) c.dispose();
  }
}

/** One client socket with its events turned into promises, each bounded by STEP_TIMEOUT. */
class Connection {
  constructor(ws, kind) {
    this.ws = ws;
    this.kind = kind;
    ws.binaryType = "arraybuffer";
    ws.addEventListener("error", () => {}); // failures show as a close event or a timeout
    this.queue = [];
    this.waiters = [];
    this.pings = [];
    this.pongWaiters = [];
    this.closeInfo = null;
    this.closeWaiters = [];
    this.timers = new Set();
    this.opened = this.#bounded(
      new Promise((resolve, reject) => {
        ws.addEventListener("open", () => resolve(), { once: true });
        ws.addEventListener("error", () => reject(new Error("error event before open")), {
          once: true,
        });
        ws.addEventListener("close", (e) => reject(new Error(`closed before open: ${e.code}`)), {
          once: true,
        });
      }),
      "open",
    );
    ws.addEventListener("message", (event) => {
      const data = event.data;
      const message = typeof data === "string"
        ? { type: "text", text: data }
        : { type: "binary", bytes: toBytes(data) };
      this.queue.push(message);
      this.#wake();
    });
    ws.addEventListener("close", (event) => {
      this.closeInfo = { code: event.code, reason: event.reason, wasClean: event.wasClean };
      this.#wake();
      for (const resolve of this.closeWaiters.splice(0)) resolve(this.closeInfo);
    });
    // Pings and pongs: `ws` has EventEmitter events with a Buffer, Bun's client has DOM events
    // with `data` typed after binaryType; Deno's client exposes neither.
    const onPong = (payload) => {
      for (const resolve of this.pongWaiters.splice(0)) resolve(payload);
    };
    if (kind === "ws") {
      ws.on("ping", (data) => this.pings.push(toBytes(data)));
      ws.on("pong", (data) => onPong(toBytes(data)));
    } else if (kind === "bun") {
      ws.addEventListener("ping", (event) => this.pings.push(toBytes(event.data)));
      ws.addEventListener("pong", (event) => onPong(toBytes(event.data)));
    }
  }

  /** The next message. */
  next() {
    return this.#bounded(
      new Promise((resolve, reject) => {
        const attempt = () => {
          if (this.queue.length > 0) return resolve(this.queue.shift());
          if (this.closeInfo !== null) {
            return reject(new Error(`closed (${this.closeInfo.code}) while waiting for a message`));
          }
          this.waiters.push(attempt);
        };
        attempt();
      }),
      "a message",
    );
  }

  /** Every message received and not yet taken. */
  drain() {
    return this.queue.splice(0);
  }

  /** The payload of the next pong. */
  nextPong() {
    return this.#bounded(new Promise((resolve) => this.pongWaiters.push(resolve)), "a pong");
  }

  /** The close event, as { code, reason, wasClean }. */
  closedEvent() {
    if (this.closeInfo !== null) return Promise.resolve(this.closeInfo);
    return this.#bounded(
      new Promise((resolve) => this.closeWaiters.push(resolve)),
      "the close event",
    );
  }

  dispose() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.closeInfo === null) {
      if (typeof this.ws.terminate === "function") this.ws.terminate();
      else {
        try {
          this.ws.close();
        } catch {
          // Already closing.
        }
      }
    }
  }

  #wake() {
    for (const attempt of this.waiters.splice(0)) attempt();
  }

  #bounded(promise, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out after ${STEP_TIMEOUT} ms waiting for ${what}`)),
        STEP_TIMEOUT,
      );
      this.timers.add(timer);
    });
    return Promise.race([promise, timeout]).finally(() => {
      clearTimeout(timer);
      this.timers.delete(timer);
    });
  }
}

function toBytes(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (Array.isArray(data)) return toBytes(concatBuffers(data)); // ws "fragments" binary type
  throw new TypeError(`unexpected message data: ${Object.prototype.toString.call(data)}`);
}

function concatBuffers(list) {
  const total = list.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const b of list) {
    out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), at);
    at += b.byteLength;
  }
  return out;
}

/**
 * What a server without a `message` callback does, and what an aborted `connect` rejects with.
 *
 * Without `message`, messages go to the pull API (`for await (const message of ws)`). That is
 * a mistake only when nothing reads: with neither `message` nor `open` nothing can, and a
 * connection whose queue fills before anything has read it is stuck. The server says so once on
 * the console; it says nothing when something reads, or when the server only sends, and the
 * client (whose caller holds the connection) never says it.
 *
 * An aborted `signal` rejects with the signal's reason, as `fetch` does: an `AbortError`
 * DOMException by default.
 */

import { after, afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { connect, serve, type ServeOptions, type WebSocketServer } from "../../mod.ts";
import { WAIT_MS, within } from "../helpers/timing.ts";

const servers: WebSocketServer[] = [];
after(async () => {
  for (const server of servers) await server.stop();
});

function start(options: ServeOptions = {}): WebSocketServer {
  const server = serve({ hostname: "127.0.0.1", port: 0, ...options });
  servers.push(server);
  return server;
}

describe("a server without a message callback", () => {
  let warnings: string[] = [];
  let warned: () => void = () => {};
  const original = console.warn;
  beforeEach(() => {
    warnings = [];
    console.warn = (...args: unknown[]) => {
      warnings.push(args.map(String).join(" "));
      warned();
    };
  });
  afterEach(() => {
    console.warn = original;
  });
  const nextWarning = () =>
    within(new Promise<void>((resolve) => warned = resolve), WAIT_MS, "a warning");

  test("no handler at all: the first unread message is reported, once", async () => {
    const server = start(); // no `websocket`
    const ws = await connect(`ws://127.0.0.1:${server.port}/`);
    const warning = nextWarning();
    ws.send("is anyone there?");
    await warning;
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^edgews: messages from 127\.0\.0\.1:\d+ wait unread\. /);
    assert.match(warnings[0], /there is no open callback to do that in/);
    assert.match(warnings[0], /websocket: \{ message\(ws, message\)/);

    // Once per server: a second message, and a second connection, add nothing. Reading the
    // messages through connections() shows the server has taken both in.
    ws.send("hello?");
    const other = await connect(`ws://127.0.0.1:${server.port}/`);
    other.send("me too");
    const received: unknown[] = [];
    for (const connection of server.connections()) {
      for await (const message of connection) {
        received.push(message);
        if (message !== "is anyone there?") break; // the last of its connection's messages
      }
    }
    assert.deepEqual(received.sort(), ["hello?", "is anyone there?", "me too"]);
    assert.equal(warnings.length, 1);
    ws.terminate();
    other.terminate();
  });

  test("an open callback that never reads: reported once the queue fills", async () => {
    const server = start({ messageQueueLength: 2, websocket: { open() {} } });
    const ws = await connect(`ws://127.0.0.1:${server.port}/`);
    const warning = nextWarning();
    ws.send("one");
    ws.send("two");
    await warning;
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /nothing has read this connection \(2 messages queued; reading/);
    ws.terminate();
  });

  test("reading in open: nothing to report", async () => {
    const server = start({
      websocket: {
        async open(ws) {
          for await (const message of ws) ws.send(message);
        },
      },
    });
    const ws = await connect(`ws://127.0.0.1:${server.port}/`);
    for (let i = 0; i < 20; i++) ws.send(`message ${i}`);
    let count = 0;
    for await (const _ of ws) if (++count === 20) break;
    assert.deepEqual(warnings, []);
    ws.terminate();
  });

  test("a server that only sends needs no callbacks, and hears nothing to report", async () => {
    const server = start({ websocket: {} });
    const ws = await connect(`ws://127.0.0.1:${server.port}/`);
    assert.equal(server.connectionCount, 1); // registered before the 101 was sent
    for (const connection of server.connections()) connection.send("news");
    for await (const message of ws) {
      assert.equal(message, "news");
      break;
    }
    assert.deepEqual(warnings, []);
    ws.terminate();
  });

  test("a client reads when it likes: messages that arrive first are not reported", async () => {
    const server = start({
      websocket: {
        open(ws) {
          ws.send("welcome");
        },
      },
    });
    let ponged!: () => void;
    const pong = new Promise<void>((resolve) => ponged = resolve);
    const ws = await connect(`ws://127.0.0.1:${server.port}/`, {
      websocket: { pong: () => ponged() }, // no message, no open: the pull API
    });
    // The welcome was sent before the server read our ping, so it is queued by the time the
    // pong arrives, unread.
    ws.ping();
    await within(pong, WAIT_MS, "the pong");
    for await (const message of ws) {
      assert.equal(message, "welcome");
      break;
    }
    assert.deepEqual(warnings, []);
    ws.terminate();
  });
});

describe("an aborted connect rejects with the signal's reason, as fetch does", () => {
  /** A server that accepts TCP and never answers the handshake; calls `onSocket` for each. */
  async function silentServer(onSocket: () => void = () => {}): Promise<number> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      onSocket();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    after(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return (server.address() as net.AddressInfo).port;
  }

  test("already aborted: an AbortError DOMException", async () => {
    const port = await silentServer();
    const error = await connect(`ws://127.0.0.1:${port}/`, { signal: AbortSignal.abort() })
      .catch((e) => e);
    assert.ok(error instanceof DOMException, String(error));
    assert.equal(error.name, "AbortError");
  });

  test("aborted during the handshake: an AbortError DOMException", async () => {
    const controller = new AbortController();
    const port = await silentServer(() => controller.abort());
    const error = await within(
      connect(`ws://127.0.0.1:${port}/`, { signal: controller.signal }).catch((e) => e),
      WAIT_MS,
      "connect to settle",
    );
    assert.ok(error instanceof DOMException, String(error));
    assert.equal(error.name, "AbortError");
  });

  test("AbortSignal.timeout: a TimeoutError DOMException", async () => {
    const port = await silentServer();
    const error = await within(
      connect(`ws://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(50) }).catch((e) => e),
      WAIT_MS,
      "connect to settle",
    );
    assert.ok(error instanceof DOMException, String(error));
    assert.equal(error.name, "TimeoutError");
  });
});

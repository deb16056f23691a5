/**
 * Our client against a raw-TCP server (node:net, in this process) that answers the handshake
 * wrongly, sends frames a server must not send, stalls, or is not HTTP at all. Each case ends in
 * a specific WebSocketHandshakeError or close code, within a deadline, and the client lets go of
 * the socket. Also: fragmented messages and interleaved pings from a well-behaved raw server.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, WebSocketHandshakeError } from "../../mod.ts";
import { closeCodeOf, closePayload, OP, serverFrame, text } from "../helpers/wire.ts";
import { acceptFor, type RawPeer, type RawServer, startRawServer } from "./_raw_server.ts";
import { WAIT_MS, within } from "../helpers/timing.ts";
import { describeMessage, finish, type Probe, probe } from "./_probe.ts";

const servers: RawServer[] = [];
after(async () => {
  for (const server of servers) await server.close();
});

async function rawServer(onPeer: (peer: RawPeer) => Promise<void> | void): Promise<RawServer> {
  const server = await startRawServer(onPeer);
  servers.push(server);
  return server;
}

/** Connects, expects a WebSocketHandshakeError, and returns it. */
async function refused(
  url: string,
  options: Parameters<typeof connect>[1] = {},
): Promise<WebSocketHandshakeError> {
  const error = await within(
    connect(url, { timeout: 10_000, ...options }).then(
      (ws) => {
        ws.terminate();
        throw new Error("connected, but should have been refused");
      },
      (error) => error,
    ),
    WAIT_MS,
    "connect to settle",
  );
  assert.ok(
    error instanceof WebSocketHandshakeError,
    `expected a WebSocketHandshakeError, got ${error}`,
  );
  return error;
}

/** A server that answers every request with `response(key)` and records whether TCP ended. */
async function answering(response: (key: string) => string) {
  let done!: () => void;
  const clientLetGo = new Promise<void>((resolve) => done = resolve);
  const server = await rawServer(async (peer) => {
    const { key } = await peer.request();
    peer.write(response(key));
    await peer.ended();
    done();
  });
  return { server, clientLetGo: () => within(clientLetGo, WAIT_MS, "the client to close TCP") };
}

const ok101 = (key: string, extra = "") =>
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n${extra}\r\n`;

describe("client against a misbehaving server: the handshake", () => {
  test("a wrong Sec-WebSocket-Accept is refused", async () => {
    const { server, clientLetGo } = await answering((key) =>
      ok101(key).replace(acceptFor(key), acceptFor("x" + key))
    );
    const error = await refused(server.url);
    assert.match(error.message, /Sec-WebSocket-Accept does not match/);
    assert.equal(error.status, 101);
    await clientLetGo();
  });

  test("a missing Sec-WebSocket-Accept is refused", async () => {
    const { server, clientLetGo } = await answering(() =>
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    );
    const error = await refused(server.url);
    assert.match(error.message, /lacks Sec-WebSocket-Accept/);
    await clientLetGo();
  });

  test("a 101 without Upgrade: websocket is refused", async () => {
    const { server, clientLetGo } = await answering((key) =>
      ok101(key).replace("Upgrade: websocket\r\n", "Upgrade: h2c\r\n")
    );
    const error = await refused(server.url);
    assert.match(error.message, /Upgrade: websocket/);
    await clientLetGo();
  });

  test("200 instead of 101: the error carries status, headers and body", async () => {
    const body = "just a web page ✓";
    const length = new TextEncoder().encode(body).length;
    const { server, clientLetGo } = await answering(() =>
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-Test: yes\r\n` +
      `Content-Length: ${length}\r\n\r\n${body}`
    );
    const error = await refused(server.url);
    assert.equal(error.status, 200);
    assert.equal(error.headers?.get("x-test"), "yes");
    assert.equal(error.headers?.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(error.body, body);
    assert.match(error.message, /200 OK/);
    await clientLetGo();
  });

  test("403 with a body (read until the server closes, no Content-Length)", async () => {
    const server = await rawServer(async (peer) => {
      await peer.request();
      peer.write("HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nnot you\n");
      peer.socket.end();
    });
    const error = await refused(server.url);
    assert.equal(error.status, 403);
    assert.equal(error.body, "not you\n");
    assert.match(error.message, /403 Forbidden/);
  });

  test("403 with a chunked body on a kept-alive connection: status and body, no wait", async () => {
    const server = await rawServer(async (peer) => {
      await peer.request();
      peer.write(
        "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nX-Reason: origin\r\n\r\n" +
          "4\r\nnot \r\n4\r\nyou\n\r\n0\r\n\r\n",
      );
      await peer.ended(); // keeps the connection open until the client lets go
    });
    // A timeout longer than any test: the error must come from the response, not the timer.
    const error = await refused(server.url, { timeout: 60_000 });
    assert.equal(error.status, 403);
    assert.equal(error.headers?.get("x-reason"), "origin");
    assert.equal(error.body, "not you\n");
  });

  test("a subprotocol nobody offered is refused", async () => {
    const first = await answering((key) => ok101(key, "Sec-WebSocket-Protocol: superchat\r\n"));
    const error = await refused(first.server.url, { protocols: ["chat"] });
    assert.match(error.message, /subprotocol "superchat", which was not offered/);
    await first.clientLetGo();
    // Nothing offered at all: any protocol in the answer is wrong.
    const second = await answering((key) => ok101(key, "Sec-WebSocket-Protocol: chat\r\n"));
    const error2 = await refused(second.server.url);
    assert.match(error2.message, /not offered/);
    await second.clientLetGo();
  });

  test("an extension nobody offered is refused", async () => {
    const { server, clientLetGo } = await answering((key) =>
      ok101(key, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
    );
    const error = await refused(server.url);
    assert.match(error.message, /extensions "permessage-deflate", which were not offered/);
    await clientLetGo();
  });

  test("garbage instead of HTTP is refused", async () => {
    const first = await answering(() => "SSH-2.0-OpenSSH_9.6\r\n");
    const error = await refused(first.server.url);
    assert.match(error.message, /did not answer with HTTP/);
    await first.clientLetGo();
    // Garbage that happens to contain a blank line.
    const second = await answering(() => "HTTP/1.1 abc nonsense\r\n\x01\x02\r\n\r\n");
    const error2 = await refused(second.server.url);
    assert.match(error2.message, /invalid response/);
    await second.clientLetGo();
  });

  test("a server that closes during the handshake", async () => {
    const server = await rawServer(async (peer) => {
      await peer.request();
      peer.write("HTTP/1.1 101 Swi");
      peer.socket.end();
    });
    const error = await refused(server.url);
    assert.match(error.message, /closed the connection during the handshake/);
  });

  test("a server that stops answering mid-handshake: error after `timeout`", async () => {
    let done!: () => void;
    const clientLetGo = new Promise<void>((resolve) => done = resolve);
    const server = await rawServer(async (peer) => {
      await peer.request();
      peer.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"); // …and nothing more
      await peer.ended();
      done();
    });
    const error = await refused(server.url, { timeout: 300 });
    assert.equal(
      error.message,
      `connected to 127.0.0.1:${new URL(server.url).port}, but the server did not complete ` +
        "the WebSocket handshake within 300 ms",
    );
    assert.equal(error.status, undefined);
    await within(clientLetGo, WAIT_MS, "the client to close TCP");
  });

  test("a server that never answers at all: error after `timeout`", async () => {
    const server = await rawServer(async (peer) => {
      await peer.request();
    });
    const error = await refused(server.url, { timeout: 300 });
    assert.equal(
      error.message,
      `connected to 127.0.0.1:${new URL(server.url).port}, but the server did not complete ` +
        "the WebSocket handshake within 300 ms",
    );
  });

  test("an AbortSignal aborted mid-handshake rejects with the abort reason", async () => {
    const controller = new AbortController();
    let done!: () => void;
    const clientLetGo = new Promise<void>((resolve) => done = resolve);
    const server = await rawServer(async (peer) => {
      await peer.request();
      peer.write("HTTP/1.1 101 Switching");
      controller.abort(reason);
      await peer.ended();
      done();
    });
    const reason = new Error("the user gave up");
    const result = await within(
      connect(server.url, { signal: controller.signal }).then(
        (ws) => {
          ws.terminate();
          return "connected";
        },
        (error) => error,
      ),
      WAIT_MS,
      "connect to settle",
    );
    assert.equal(result, reason);
    await within(clientLetGo, WAIT_MS, "the client to close TCP");
    // An already aborted signal rejects at once, with its reason too.
    const error = await connect(server.url, { signal: AbortSignal.abort(reason) }).catch((e) => e);
    assert.equal(error, reason);
  });

  test("connection refused is a WebSocketHandshakeError", async () => {
    const server = await startRawServer(() => {});
    const url = server.url;
    await server.close();
    const error = await refused(url);
    // The same words on Deno ("Connection refused") and Bun ("Failed to connect").
    assert.equal(
      error.message,
      `could not connect to ${url}: the connection was refused (is the server running, on that ` +
        "port?)",
    );
    assert.equal((error.cause as { code?: string }).code, "ECONNREFUSED");
  });
});

describe("client against a misbehaving server: after the handshake", () => {
  /** Accepts, sends `bytes`, and reports the frames the client sent back until TCP closed. */
  async function afterOpen(bytes: Uint8Array, serverClosed = false) {
    let resolveFrames!: (frames: Awaited<ReturnType<RawPeer["frame"]>>[]) => void;
    const framesSeen = new Promise<Awaited<ReturnType<RawPeer["frame"]>>[]>((resolve) =>
      resolveFrames = resolve
    );
    const server = await rawServer(async (peer) => {
      await peer.accept();
      peer.write(bytes);
      const frames = [];
      for (let frame = await peer.frame(); frame !== null; frame = await peer.frame()) {
        frames.push(frame);
        // The client's answer to our close: the server closes TCP first (RFC 6455 §7.1.1).
        if (serverClosed && frame.opcode === OP.close) peer.socket.end();
      }
      resolveFrames(frames);
    });
    const p = await probe(server.url);
    const info = await within(p.ws.closed, WAIT_MS, "closed");
    const frames = await within(framesSeen, WAIT_MS, "the client's frames");
    return { info, frames, p };
  }

  test("a masked frame from the server: the client closes with 1002", async () => {
    const { info, frames, p } = await afterOpen(serverFrame(OP.text, "sneaky", { mask: true }));
    assert.equal(info.code, 1002);
    assert.equal(info.wasClean, false);
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.opcode, OP.close);
    assert.equal(frames[0]!.masked, true);
    assert.equal(closeCodeOf(frames[0]!), 1002);
    assert.equal(p.messages.items.length, 0);
    assert.deepEqual(p.closes.map((c) => c.code), [1002]);
  });

  for (const code of [999, 1005, 1006, 1015, 2999, 5000]) {
    test(`a close frame with invalid code ${code}: the client closes with 1002`, async () => {
      const { info, frames } = await afterOpen(serverFrame(OP.close, closePayload(code)));
      assert.equal(info.code, 1002);
      assert.equal(frames.length, 1);
      assert.equal(frames[0]!.opcode, OP.close);
      assert.equal(closeCodeOf(frames[0]!), 1002);
    });
  }

  test("a close frame with a 1-byte payload: 1002", async () => {
    const { info, frames } = await afterOpen(serverFrame(OP.close, [3]));
    assert.equal(info.code, 1002);
    assert.equal(closeCodeOf(frames[0]!), 1002);
  });

  test("invalid UTF-8 in a text message: 1007", async () => {
    const { info, frames } = await afterOpen(serverFrame(OP.text, [0xce, 0xba, 0xff]));
    assert.equal(info.code, 1007);
    assert.equal(closeCodeOf(frames[0]!), 1007);
  });

  test("a valid close frame with 4001 is echoed and reported", async () => {
    const { info, frames, p } = await afterOpen(
      serverFrame(OP.close, closePayload(4001, "raw bye ✓")),
      true,
    );
    assert.deepEqual(info, { code: 4001, reason: "raw bye ✓", wasClean: true });
    assert.equal(frames.length, 1);
    assert.equal(closeCodeOf(frames[0]!), 4001);
    assert.equal(frames[0]!.masked, true);
    assert.deepEqual(p.closes, [{ code: 4001, reason: "raw bye ✓" }]);
  });
});

describe("client against a raw server: fragments and pings", () => {
  let p: Probe | undefined;
  after(() => finish(p));

  test("fragmented messages with a ping in between arrive whole; the ping is answered", async () => {
    const encoded = new TextEncoder().encode("κόσμε ✓ 🚀");
    let resolvePong!: (payload: string) => void;
    const pongSeen = new Promise<string>((resolve) => resolvePong = resolve);
    let resolveEcho!: (payload: string) => void;
    const echoSeen = new Promise<string>((resolve) => resolveEcho = resolve);
    const server = await rawServer(async (peer) => {
      await peer.accept();
      // Cut inside multi-byte characters, a ping between fragments, an empty fragment.
      peer.write(serverFrame(OP.text, encoded.subarray(0, 1), { fin: false }));
      peer.write(serverFrame(OP.cont, encoded.subarray(1, 7), { fin: false }));
      peer.write(serverFrame(OP.ping, "mid", {}));
      peer.write(serverFrame(OP.cont, [], { fin: false }));
      peer.write(serverFrame(OP.cont, encoded.subarray(7)));
      // 200 one-byte binary fragments, all in one write.
      const parts: Uint8Array[] = [];
      for (let i = 0; i < 200; i++) {
        parts.push(serverFrame(i === 0 ? OP.binary : OP.cont, [i], { fin: i === 199 }));
      }
      peer.write(Uint8Array.from(parts.flatMap((part) => Array.from(part))));
      for (let frame = await peer.frame(); frame !== null; frame = await peer.frame()) {
        assert.equal(frame.masked, true, "client frames must be masked");
        if (frame.opcode === OP.pong) resolvePong(text(frame.payload));
        if (frame.opcode === OP.text) resolveEcho(text(frame.payload));
        if (frame.opcode === OP.close) {
          peer.write(serverFrame(OP.close, frame.payload));
          peer.socket.end();
        }
      }
    });
    p = await probe(server.url);
    const first = await p.messages.next("fragmented text");
    assert.equal(first, "κόσμε ✓ 🚀");
    const second = await p.messages.next("fragmented binary");
    assert.ok(second instanceof Uint8Array, describeMessage(second));
    assert.deepEqual(Array.from(second), Array.from({ length: 200 }, (_, i) => i));
    assert.equal(await within(pongSeen, WAIT_MS, "the pong"), "mid");
    assert.equal(new TextDecoder().decode(await p.pings.next("ping handler")), "mid");
    p.ws.send("masked?");
    assert.equal(await within(echoSeen, WAIT_MS, "the text frame"), "masked?");
    p.ws.close(1000, "done");
    const info = await within(p.ws.closed, WAIT_MS, "closed");
    assert.deepEqual(info, { code: 1000, reason: "done", wasClean: true });
    assert.deepEqual(server.errors, []);
  });
});

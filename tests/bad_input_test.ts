/**
 * Hostile and broken clients before the handshake completes: garbage, truncated requests,
 * oversized heads, too many headers, clients that never finish. Each is refused or dropped on its
 * own, nothing throws, and a normal client on the same server keeps being served throughout.
 * On a `wss://` port, TLS handshakes that fail (plain HTTP, random bytes, a version nobody speaks,
 * a ClientHello cut short) close their socket at once, and reach neither the `error` callback
 * nor the console.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { connect, type WebSocketServer } from "../mod.ts";
import { latin1 } from "./helpers/bytes.ts";
import { RawClient, upgradeRequest } from "./helpers/raw_client.ts";
import { sleep } from "./helpers/timing.ts";
import { TLS_CA, TLS_CERT, TLS_KEY } from "./helpers/tls.ts";
import { startServer } from "./helpers/servers.ts";
import { clientFrame, OP, text } from "./helpers/wire.ts";

const HANDSHAKE_TIMEOUT = 300;
const MAX_HEADER_BYTES = 2048;
const MAX_HEADER_COUNT = 20;

const enc = new TextEncoder();

describe("bad input", () => {
  let server: WebSocketServer;
  /** A client that stays connected through every test and must keep getting echoes. */
  let bystander: RawClient;
  let round = 0;
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);

  async function bystanderStillEchoes(): Promise<void> {
    const message = `still here ${round++}`;
    bystander.write(clientFrame(OP.text, message));
    const frame = await bystander.nextFrame();
    assert.equal(frame.opcode, OP.text);
    assert.equal(text(frame.payload), message);
    assert.equal(bystander.ended, false);
  }

  /** Reads what the server sends until it closes the connection; fails if it never does. */
  async function everythingUntilClosed(client: RawClient): Promise<string> {
    await client.waitForEnd(5000);
    return latin1(client.pending);
  }

  before(async () => {
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
    server = startServer({
      handshakeTimeout: HANDSHAKE_TIMEOUT,
      maxHeaderBytes: MAX_HEADER_BYTES,
      maxHeaderCount: MAX_HEADER_COUNT,
    });
    bystander = await RawClient.open(server.port);
  });
  after(async () => {
    bystander.destroy();
    await server.stop();
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
  });

  test("garbage instead of HTTP is refused with 400 at once (not at the timeout)", async () => {
    const garbage = [
      Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), // TLS
      Uint8Array.from([0x00, 0xff, 0x81, 0x85, 0x37, 0xfa]), // binary noise
      clientFrame(OP.text, "a WebSocket frame without a handshake"),
      enc.encode("\x01\x02 GET / HTTP/1.1\r\n\r\n"),
    ];
    for (const bytes of garbage) {
      const client = await RawClient.connect(server.port);
      client.write(bytes);
      const response = await client.readResponse();
      // 408 would mean the server only gave up at the handshake timeout.
      assert.equal(response.status, 400);
      assert.equal(client.ended, true);
    }
    await bystanderStillEchoes();
  });

  test("malformed request heads are refused with 400", async () => {
    const port = server.port;
    const valid = upgradeRequest(port);
    const cases = [
      valid.replaceAll("\r\n", "\n"), // bare LF
      valid.replace("Upgrade: websocket\r\n", "Upgrade : websocket\r\n"), // space before colon
      valid.replace("Upgrade: websocket\r\n", "Upgrade: web\x00socket\r\n"), // NUL in a value
      valid.replace("Upgrade: websocket\r\n", " folded\r\n"), // obsolete line folding
      valid.replace("Upgrade: websocket\r\n", "no colon here\r\n"),
      valid.replace(`Host: 127.0.0.1:${port}`, "Host: evil.example/path"),
      valid.replace("GET / HTTP/1.1", "GET  HTTP/1.1"),
      valid.replace("GET / HTTP/1.1", "GET /"),
      "\r\n\r\n",
    ];
    for (const request of cases) {
      const client = await RawClient.connect(port);
      client.write(request);
      const response = await client.readResponse();
      assert.equal(response.status, 400, JSON.stringify(request));
      assert.equal(client.ended, true);
    }
    await bystanderStillEchoes();
  });

  test("a truncated request followed by the client's FIN gets no 101, and the server closes", async () => {
    const request = upgradeRequest(server.port);
    for (const cut of [1, 10, request.length / 2, request.length - 2]) {
      const client = await RawClient.connect(server.port);
      client.write(request.slice(0, cut));
      await sleep(10);
      client.socket.end();
      const received = await everythingUntilClosed(client);
      assert.ok(!received.startsWith("HTTP/1.1 101"), received);
    }
    await bystanderStillEchoes();
  });

  test("a truncated request followed by a reset leaves the server serving", async () => {
    const request = upgradeRequest(server.port);
    for (let i = 0; i < 20; i++) {
      const client = await RawClient.connect(server.port);
      client.write(request.slice(0, 5 + i * 3));
      if (typeof client.socket.resetAndDestroy === "function") client.socket.resetAndDestroy();
      else client.destroy();
    }
    await sleep(50);
    await bystanderStillEchoes();
  });

  test("a head larger than maxHeaderBytes is refused with 431", async () => {
    const request = upgradeRequest(server.port, {
      headers: { "X-Big": "a".repeat(MAX_HEADER_BYTES + 100) },
    });
    const client = await RawClient.connect(server.port);
    client.write(request);
    assert.equal((await client.readResponse()).status, 431);
    await bystanderStillEchoes();
  });

  test("a head that grows past maxHeaderBytes without ever ending is refused with 431 at once", async () => {
    const client = await RawClient.connect(server.port);
    client.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: `);
    await client.writeInPieces(enc.encode("b".repeat(MAX_HEADER_BYTES + 500)), 512, 5);
    // 408 would mean the size limit did not apply until the timeout.
    assert.equal((await client.readResponse()).status, 431);
    await bystanderStillEchoes();
  });

  test("more than maxHeaderCount headers are refused with 431", async () => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < MAX_HEADER_COUNT; i++) headers[`X-H${i}`] = "v";
    const client = await RawClient.connect(server.port);
    client.write(upgradeRequest(server.port, { headers }));
    assert.equal((await client.readResponse()).status, 431);
    await bystanderStillEchoes();
  });

  test("a client that connects and sends nothing is dropped at handshakeTimeout", async () => {
    const client = await RawClient.connect(server.port);
    await client.waitForEnd(HANDSHAKE_TIMEOUT + 5000);
    assert.ok(latin1(client.pending).startsWith("HTTP/1.1 408 "), "answered 408 before closing");
    await bystanderStillEchoes();
  });

  test("a client that trickles its request too slowly is dropped at handshakeTimeout", async () => {
    const client = await RawClient.connect(server.port);
    const request = enc.encode(upgradeRequest(server.port));
    // One byte every 50 ms would take far longer than the timeout; stop once dropped.
    for (let i = 0; i < request.length - 1 && !client.ended && i < 200; i++) {
      client.write(request.subarray(i, i + 1));
      await sleep(50);
    }
    await client.waitForEnd(5000);
    assert.ok(latin1(client.pending).startsWith("HTTP/1.1 408 "), "answered 408 before closing");
    await bystanderStillEchoes();
  });

  test("many bad clients at once, while the bystander keeps echoing", async () => {
    const clients: RawClient[] = [];
    for (let i = 0; i < 30; i++) {
      const client = await RawClient.connect(server.port);
      switch (i % 5) {
        case 0:
          client.write(Uint8Array.from([0xde, 0xad, 0xbe, 0xef]));
          break;
        case 1:
          client.write(upgradeRequest(server.port, { headers: { "X-Big": "c".repeat(5000) } }));
          break;
        case 2:
          client.write("GET / HTTP/1.1\r\n"); // never finished
          break;
        case 3:
          client.write(upgradeRequest(server.port, { key: "short" }));
          break;
        case 4:
          break; // silent
      }
      clients.push(client);
    }
    await bystanderStillEchoes();
    await Promise.all(clients.map((c) => c.waitForEnd(HANDSHAKE_TIMEOUT + 5000)));
    await bystanderStillEchoes();
    assert.equal(server.connectionCount, 1, "only the bystander is a WebSocket connection");
  });

  test("nothing was thrown uncaught", async () => {
    await sleep(20);
    assert.deepEqual(uncaught, []);
    await bystanderStillEchoes();
  });
});

describe("bad input to a TLS port", () => {
  /** Long, so that a socket closed "at once" cannot have been closed by the timeout. */
  const TLS_HANDSHAKE_TIMEOUT = 10_000;
  let server: WebSocketServer;
  const reported: unknown[] = [];
  const original = { error: console.error, warn: console.warn };

  /** A wss:// client (ours) that must still connect and echo. */
  async function wssEchoes(message: string): Promise<void> {
    const ws = await connect(`wss://127.0.0.1:${server.port}/`, {
      tls: { caCerts: [TLS_CA] },
      timeout: 5_000,
    });
    ws.send(message);
    for await (const echo of ws) {
      assert.equal(echo, message);
      break;
    }
    ws.close();
    await ws.closed;
  }

  before(() => {
    console.error = (...args: unknown[]) => reported.push(["console.error", ...args]);
    console.warn = (...args: unknown[]) => reported.push(["console.warn", ...args]);
    server = startServer({
      tls: { cert: TLS_CERT, key: TLS_KEY },
      handshakeTimeout: TLS_HANDSHAKE_TIMEOUT,
      websocket: {
        message(ws, message) {
          ws.send(message);
        },
        error(_ws, error) {
          reported.push(["error callback", error]);
        },
      },
    });
  });
  after(async () => {
    await server.stop();
    console.error = original.error;
    console.warn = original.warn;
  });

  // A deterministic byte soup that does not start like a TLS record.
  const random = Uint8Array.from({ length: 600 }, (_, i) => (i * 151 + 7) % 251 + 2);
  /** A complete ClientHello offering only SSL 3.0, which no server here speaks. */
  const sslv3Hello = Uint8Array.from([
    0x16,
    0x03,
    0x00,
    0x00,
    0x2d, // record: handshake, SSL 3.0, 45 bytes
    0x01,
    0x00,
    0x00,
    0x29,
    0x03,
    0x00, // ClientHello, 41 bytes, SSL 3.0
    ...new Array<number>(32).fill(0x2a), // random
    0x00, // no session id
    0x00,
    0x02,
    0x00,
    0x2f, // one cipher suite
    0x01,
    0x00, // no compression
  ]);
  const cases: [string, Uint8Array | string, { fin?: boolean }][] = [
    ["a plain-HTTP upgrade request", upgradeRequest(443), {}],
    ["a plain-HTTP GET", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", {}],
    ["random bytes", random, {}],
    ["a ClientHello for SSL 3.0", sslv3Hello, {}],
    ["a record of an unknown version", Uint8Array.from([0x16, 0x09, 0x09, 0, 4, 1, 2, 3, 4]), {}],
    ["half a ClientHello, then FIN", sslv3Hello.subarray(0, 20), { fin: true }],
  ];

  for (const [what, bytes, { fin }] of cases) {
    test(`${what}: closed at once, not at handshakeTimeout`, async () => {
      const client = await RawClient.connect(server.port);
      const startedAt = Date.now();
      client.write(bytes);
      if (fin) client.socket.end();
      await client.waitForEnd(TLS_HANDSHAKE_TIMEOUT / 2);
      const ms = Date.now() - startedAt;
      assert.ok(ms < 1_000, `closed after ${ms} ms`);
      // At most a TLS alert: never anything an HTTP client could take for an answer.
      assert.ok(!latin1(client.pending).includes("HTTP/"), "answered in plain HTTP");
    });
  }

  test("all of them at once, 20 times over: the server keeps serving wss://", async () => {
    await wssEchoes("before");
    const clients = await Promise.all(
      Array.from({ length: 20 * cases.length }, async (_, i) => {
        const [, bytes, { fin }] = cases[i % cases.length];
        const client = await RawClient.connect(server.port);
        client.write(bytes);
        if (fin) client.socket.end();
        return client;
      }),
    );
    await Promise.all(clients.map((client) => client.waitForEnd(TLS_HANDSHAKE_TIMEOUT / 2)));
    await wssEchoes("after");
    // None of them became a connection (the two echo clients close as their server side sees it).
    for (let i = 0; i < 100 && server.connectionCount > 0; i++) await sleep(20);
    assert.equal(server.connectionCount, 0);
  });

  test("nothing reached the error callback or the console", async () => {
    await sleep(20);
    assert.deepEqual(reported, []);
  });
});

/**
 * Reserved bits (RFC 6455 §5.2; the ground of the Autobahn suite's section 3): with no extension
 * negotiated, a frame with RSV1, RSV2 or RSV3 set fails the connection with 1002, whatever its
 * opcode, and nothing after it is read. Frames before it in the same write are still handled.
 *
 * Each test sends raw bytes and checks every byte the server sends back until it closes TCP.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Message, WebSocketServer } from "../../mod.ts";
import { RawClient, sleep } from "../helpers/raw_client.ts";
import { startServer } from "../helpers/servers.ts";
import { clientFrame, closeCodeOf, closePayload, OP, readFrames } from "../helpers/wire.ts";

// ------------------------------------------------------------------------------------ helpers

/** A frame exactly as the server must send it: FIN set, no RSV bits, unmasked, minimal length. */
function serverFrame(opcode: number, payload: string | Uint8Array | number[] = []): Uint8Array {
  return clientFrame(opcode, payload, { mask: false });
}

/** The client's close frame with 1000, and the server's exact answer to it. */
const CLIENT_CLOSE = clientFrame(OP.close, closePayload(1000));
const SERVER_CLOSE = Uint8Array.from([0x88, 0x02, 0x03, 0xe8]);

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function hex(data: Uint8Array): string {
  return Array.from(data, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Writes `data` in one write; returns every byte the server sent until it closed TCP. */
async function exchange(client: RawClient, data: Uint8Array): Promise<Uint8Array> {
  client.write(data);
  await client.waitForEnd();
  return client.pending;
}

/** `received` is exactly `expected`. */
function assertBytes(received: Uint8Array, expected: Uint8Array): void {
  assert.equal(hex(received), hex(expected));
}

/** `received` is exactly `before`, then one close frame with `code`, then nothing. */
function assertFailed(received: Uint8Array, before: Uint8Array, code: number): void {
  assert.equal(hex(received.subarray(0, before.length)), hex(before), "frames before the close");
  const rest = received.subarray(before.length);
  const { frames, used } = readFrames(rest);
  assert.equal(used, rest.length, "only whole frames follow");
  assert.deepEqual(frames.map((f) => f.opcode), [OP.close], "exactly one close frame follows");
  const [close] = frames;
  assert.equal(close.fin, true);
  assert.equal(close.rsv, 0);
  assert.equal(close.masked, false);
  assert.equal(closeCodeOf(close), code);
}

/** What the server's callbacks saw on one connection. */
interface Seen {
  messages: Message[];
  pings: Uint8Array[];
  pongs: Uint8Array[];
  closed: Promise<{ code: number; reason: string }>;
}

/** An echo server that records its callbacks per connection (keyed by the request path). */
function recordingServer(): { server: WebSocketServer<string>; seen(id: string): Seen } {
  const all = new Map<string, Seen & { resolve(info: { code: number; reason: string }): void }>();
  const seen = (id: string) => {
    let entry = all.get(id);
    if (entry === undefined) {
      let resolve!: (info: { code: number; reason: string }) => void;
      const closed = new Promise<{ code: number; reason: string }>((r) => resolve = r);
      entry = { messages: [], pings: [], pongs: [], closed, resolve };
      all.set(id, entry);
    }
    return entry;
  };
  const server = startServer<string>({
    upgrade: (request) => ({ data: new URL(request.url).pathname }),
    websocket: {
      message(ws, message) {
        seen(ws.data).messages.push(message);
        ws.send(message);
      },
      ping(ws, payload) {
        seen(ws.data).pings.push(payload.slice());
      },
      pong(ws, payload) {
        seen(ws.data).pongs.push(payload.slice());
      },
      close(ws, code, reason) {
        seen(ws.data).resolve({ code, reason });
      },
    },
  });
  return { server, seen };
}

/** Waits for the server's close callback (bounded, so a missing callback fails the test). */
function closedWith(entry: Seen): Promise<{ code: number; reason: string }> {
  return Promise.race([
    entry.closed,
    sleep(5000).then(() => Promise.reject(new Error("the close callback was not called"))),
  ]);
}

const RSV1 = 4;
const RSV2 = 2;
const RSV3 = 1;

// -------------------------------------------------------------------------------------- tests

describe("reserved bits", () => {
  let server: WebSocketServer<string>;
  let seen: (id: string) => Seen;
  let counter = 0;

  before(() => {
    ({ server, seen } = recordingServer());
  });
  after(() => server.stop());

  async function open(): Promise<{ client: RawClient; entry: Seen }> {
    const id = `/c${counter++}`;
    const client = await RawClient.open(server.port, { path: id });
    return { client, entry: seen(id) };
  }

  /** Every combination of the three bits but none. */
  const combinations = [1, 2, 3, 4, 5, 6, 7];
  const names = (rsv: number) =>
    [rsv & RSV1 ? "RSV1" : "", rsv & RSV2 ? "RSV2" : "", rsv & RSV3 ? "RSV3" : ""]
      .filter((n) => n !== "").join("+");

  for (const rsv of combinations) {
    test(`a text frame with ${names(rsv)} fails with 1002 and is not delivered`, async () => {
      const { client, entry } = await open();
      const received = await exchange(client, clientFrame(OP.text, "Hello", { rsv }));
      assertFailed(received, new Uint8Array(0), 1002);
      assert.deepEqual(entry.messages, []);
      assert.equal((await closedWith(entry)).code, 1002);
    });
  }

  test("a valid frame before the bad one in the same write is echoed first; the ping after is not answered", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      join(
        clientFrame(OP.text, "Hello, world!"),
        clientFrame(OP.text, "Hello, world!", { rsv: RSV2 }),
        clientFrame(OP.ping),
      ),
    );
    assertFailed(received, serverFrame(OP.text, "Hello, world!"), 1002);
    assert.deepEqual(entry.messages, ["Hello, world!"]);
    assert.equal((await closedWith(entry)).code, 1002);
  });

  test("the same, frame by frame: the echo comes before the bad frame is sent", async () => {
    const { client, entry } = await open();
    client.write(clientFrame(OP.text, "Hello, world!"));
    const echo = await client.nextFrame();
    assert.deepEqual(
      { fin: echo.fin, rsv: echo.rsv, opcode: echo.opcode, masked: echo.masked },
      { fin: true, rsv: 0, opcode: OP.text, masked: false },
    );
    client.write(
      join(clientFrame(OP.text, "Hello, world!", { rsv: RSV1 | RSV2 }), clientFrame(OP.ping)),
    );
    await client.waitForEnd();
    assertFailed(client.pending, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, ["Hello, world!"]);
  });

  test("the same, sent one byte per write", async () => {
    const { client, entry } = await open();
    const data = join(
      clientFrame(OP.text, "Hello, world!"),
      clientFrame(OP.text, "Hello, world!", { rsv: RSV3 }),
      clientFrame(OP.ping),
    );
    await client.writeInPieces(data, 1);
    await client.waitForEnd();
    assertFailed(client.pending, serverFrame(OP.text, "Hello, world!"), 1002);
    assert.deepEqual(entry.messages, ["Hello, world!"]);
  });

  test("a binary frame with RSV1+RSV3 fails with 1002", async () => {
    const { client, entry } = await open();
    const payload = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const received = await exchange(client, clientFrame(OP.binary, payload, { rsv: RSV1 | RSV3 }));
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("an empty frame with RSV1 fails with 1002", async () => {
    const { client } = await open();
    assertFailed(
      await exchange(client, clientFrame(OP.binary, [], { rsv: RSV1 })),
      new Uint8Array(0),
      1002,
    );
  });

  test("a ping with RSV2+RSV3 fails with 1002 and gets no pong", async () => {
    const { client, entry } = await open();
    const received = await exchange(client, clientFrame(OP.ping, "ping", { rsv: RSV2 | RSV3 }));
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.pings, []);
  });

  test("a pong with RSV1 fails with 1002 and does not reach the pong callback", async () => {
    const { client, entry } = await open();
    const received = await exchange(client, clientFrame(OP.pong, "pong", { rsv: RSV1 }));
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.pongs, []);
  });

  test("a close frame with all three bits fails with 1002 (not a clean 1000)", async () => {
    const { client, entry } = await open();
    const close = clientFrame(OP.close, closePayload(1000), { rsv: RSV1 | RSV2 | RSV3 });
    const received = await exchange(client, close);
    assertFailed(received, new Uint8Array(0), 1002);
    assert.equal((await closedWith(entry)).code, 1002);
  });

  test("a continuation frame with RSV1 fails with 1002 and the message is not delivered", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      join(
        clientFrame(OP.text, "frag", { fin: false }),
        clientFrame(OP.cont, "ment", { rsv: RSV1 }),
      ),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("the first frame of a fragmented message with RSV2 fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      join(
        clientFrame(OP.text, "frag", { fin: false, rsv: RSV2 }),
        clientFrame(OP.cont, "ment"),
      ),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("frames without reserved bits echo with none set", async () => {
    const { client } = await open();
    const received = await exchange(
      client,
      join(clientFrame(OP.text, "plain"), clientFrame(OP.binary, [1, 2, 3]), CLIENT_CLOSE),
    );
    assertBytes(
      received,
      join(serverFrame(OP.text, "plain"), serverFrame(OP.binary, [1, 2, 3]), SERVER_CLOSE),
    );
  });
});

/**
 * Opcodes (RFC 6455 §5.2; the ground of the Autobahn suite's section 4): the reserved data opcodes
 * 3–7 and the reserved control opcodes 0xB–0xF fail the connection with 1002, with or without a
 * payload, and nothing after them is read. Frames before them in the same write are still handled.
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

const RESERVED_DATA = [3, 4, 5, 6, 7];
const RESERVED_CONTROL = [0xb, 0xc, 0xd, 0xe, 0xf];
const RESERVED = [...RESERVED_DATA, ...RESERVED_CONTROL];
const name = (opcode: number) => `0x${opcode.toString(16).toUpperCase()}`;

// -------------------------------------------------------------------------------------- tests

describe("opcodes", () => {
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

  for (const opcode of RESERVED) {
    test(`reserved opcode ${name(opcode)} without payload fails with 1002`, async () => {
      const { client, entry } = await open();
      assertFailed(await exchange(client, clientFrame(opcode)), new Uint8Array(0), 1002);
      assert.deepEqual(entry.messages, []);
      assert.equal((await closedWith(entry)).code, 1002);
    });

    test(`reserved opcode ${name(opcode)} with a payload fails with 1002`, async () => {
      const { client, entry } = await open();
      const received = await exchange(client, clientFrame(opcode, "reserved payload"));
      assertFailed(received, new Uint8Array(0), 1002);
      assert.deepEqual(entry.messages, []);
      assert.deepEqual(entry.pings, []);
      assert.deepEqual(entry.pongs, []);
    });

    test(`text, then reserved opcode ${name(opcode)}, then a ping, in one write: echo, 1002, no pong`, async () => {
      const { client, entry } = await open();
      const received = await exchange(
        client,
        join(
          clientFrame(OP.text, "Hello, world!"),
          clientFrame(opcode, "reserved"),
          clientFrame(OP.ping, "not answered"),
        ),
      );
      assertFailed(received, serverFrame(OP.text, "Hello, world!"), 1002);
      assert.deepEqual(entry.messages, ["Hello, world!"]);
      assert.deepEqual(entry.pings, []);
    });
  }

  test("text, then a reserved opcode and a ping after the echo arrived: 1002, no pong", async () => {
    const { client, entry } = await open();
    client.write(clientFrame(OP.text, "Hello, world!"));
    const echo = await client.nextFrame();
    assert.equal(echo.opcode, OP.text);
    client.write(join(clientFrame(6, "reserved"), clientFrame(OP.ping)));
    await client.waitForEnd();
    assertFailed(client.pending, new Uint8Array(0), 1002);
    assert.deepEqual(entry.pings, []);
  });

  test("text, reserved opcode 0xD, ping, sent one byte per write: echo, then 1002", async () => {
    const { client } = await open();
    const data = join(
      clientFrame(OP.text, "Hello, world!"),
      clientFrame(0xd, "reserved"),
      clientFrame(OP.ping),
    );
    await client.writeInPieces(data, 1);
    await client.waitForEnd();
    assertFailed(client.pending, serverFrame(OP.text, "Hello, world!"), 1002);
  });

  test("a reserved opcode with FIN clear fails with 1002", async () => {
    const { client } = await open();
    const received = await exchange(client, clientFrame(4, "abc", { fin: false }));
    assertFailed(received, new Uint8Array(0), 1002);
  });

  test("a reserved control opcode with 126 bytes fails with 1002", async () => {
    const { client } = await open();
    const received = await exchange(client, clientFrame(0xc, new Uint8Array(126)));
    assertFailed(received, new Uint8Array(0), 1002);
  });

  test("a reserved opcode inside a fragmented message fails with 1002; the message is dropped", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      join(
        clientFrame(OP.text, "frag", { fin: false }),
        clientFrame(3, "ment"),
        clientFrame(OP.cont, "end"),
      ),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("a reserved control opcode between fragments fails with 1002", async () => {
    const { client, entry } = await open();
    const received = await exchange(
      client,
      join(
        clientFrame(OP.binary, [1, 2], { fin: false }),
        clientFrame(0xb),
        clientFrame(OP.cont, [3, 4]),
      ),
    );
    assertFailed(received, new Uint8Array(0), 1002);
    assert.deepEqual(entry.messages, []);
  });

  test("text echoes as text (0x81) and binary as binary (0x82)", async () => {
    const { client, entry } = await open();
    const binary = Uint8Array.from([0xff, 0x00, 0x80]);
    const received = await exchange(
      client,
      join(clientFrame(OP.text, "text"), clientFrame(OP.binary, binary), CLIENT_CLOSE),
    );
    assertBytes(
      received,
      join(
        Uint8Array.from([0x81, 0x04]),
        new TextEncoder().encode("text"),
        Uint8Array.from([0x82, 0x03]),
        binary,
        SERVER_CLOSE,
      ),
    );
    assert.equal(entry.messages.length, 2);
    assert.equal(entry.messages[0], "text");
    assert.ok(entry.messages[1] instanceof Uint8Array, "a binary message arrives as bytes");
    assert.deepEqual(entry.messages[1], binary);
  });
});

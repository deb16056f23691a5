/**
 * The closing handshake and close codes (RFC 6455 §5.5.1, §7; the ground of Autobahn section 7):
 * what the server answers to each close frame, that it then closes TCP, that it initiates a
 * close correctly and gives up after `closeTimeout`, and that the application's `close` callback
 * runs exactly once with the right code and reason whichever way the connection ends.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RawClient } from "../helpers/raw_client.ts";
import { startRecordingServer } from "../helpers/recording_server.ts";
import { sleep, within } from "../helpers/timing.ts";
import { openRaw } from "./_exchange.ts";
import {
  bytes,
  clientFrame,
  closeCodeOf,
  closePayload,
  OP,
  type ServerFrame,
  text,
} from "../helpers/wire.ts";

/** A recording server that echoes messages, and starts a close of its own when told "close-me". */
function trackingServer(closeTimeout?: number) {
  const recording = startRecordingServer({
    closeTimeout,
    onMessage(ws, message) {
      if (message === "close-me") ws.close(4001, "bye");
      else ws.send(message);
    },
  });
  return {
    server: recording.server,
    /** Opens a raw client whose connection is recorded under a fresh id. */
    async open(): Promise<{ client: RawClient; id: string }> {
      const { client, entry } = await openRaw(recording, "/");
      return { client, id: entry.id };
    },
    /** Waits for the connection to close, then checks `close` was called exactly once so. */
    async expectClosed(id: string, code: number, reason?: string): Promise<void> {
      const entry = recording.record(id);
      assert.ok(entry.ws, `connection ${id} was opened`);
      const info = await within(entry.closed, 5000, `connection ${id} to close`);
      await sleep(20); // room for a second, wrong call to show up
      assert.equal(entry.closes.length, 1, "close callback called exactly once");
      assert.equal(entry.closes[0].code, code);
      assert.equal(info.code, code);
      if (reason !== undefined) {
        assert.equal(entry.closes[0].reason, reason);
        assert.equal(info.reason, reason);
      }
    },
  };
}

async function expectCloseOnly(client: RawClient): Promise<ServerFrame> {
  const frames = await client.readUntilClose();
  assert.deepEqual(frames.map((f) => f.opcode), [OP.close]);
  assert.equal(client.ended, true, "the server closes TCP after the closing handshake");
  return frames[0];
}

describe("closing", () => {
  let t: ReturnType<typeof trackingServer>;
  before(() => {
    t = trackingServer();
  });
  after(() => t.server.stop());

  test("a close without a payload is answered with an empty close, then TCP closes", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.close));
    const close = await expectCloseOnly(client);
    assert.equal(close.payload.length, 0);
    assert.equal(close.fin, true);
    assert.equal(close.masked, false);
    await t.expectClosed(id, 1005, "");
  });

  test("a close 1000 with a reason is answered with 1000", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.close, closePayload(1000, "all done, κόσμε")));
    const close = await expectCloseOnly(client);
    assert.equal(closeCodeOf(close), 1000);
    await t.expectClosed(id, 1000, "all done, κόσμε");
  });

  for (
    const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
  ) {
    test(`valid close code ${code} is echoed`, async () => {
      const { client, id } = await t.open();
      client.write(clientFrame(OP.close, closePayload(code, "r")));
      const close = await expectCloseOnly(client);
      assert.equal(closeCodeOf(close), code);
      await t.expectClosed(id, code, "r");
    });
  }

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    test(`invalid close code ${code} closes with 1002`, async () => {
      const { client, id } = await t.open();
      client.write(clientFrame(OP.close, closePayload(code)));
      const close = await expectCloseOnly(client);
      assert.equal(closeCodeOf(close), 1002);
      await t.expectClosed(id, 1002);
    });
  }

  test("a 1-byte close payload closes with 1002", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.close, [0x03]));
    assert.equal(closeCodeOf(await expectCloseOnly(client)), 1002);
    await t.expectClosed(id, 1002);
  });

  test("a close reason that is not UTF-8 closes with 1007", async () => {
    const { client, id } = await t.open();
    const payload = new Uint8Array([0x03, 0xe8, ...bytes("hex:ce ba e1 bd b9 ed a0 80 65")]);
    client.write(clientFrame(OP.close, payload));
    assert.equal(closeCodeOf(await expectCloseOnly(client)), 1007);
    await t.expectClosed(id, 1007);
  });

  test("a 125-byte close payload (code and 123-byte reason) is accepted", async () => {
    const { client, id } = await t.open();
    const reason = "é".repeat(61) + "x"; // 123 UTF-8 bytes
    assert.equal(closePayload(1000, reason).length, 125);
    client.write(clientFrame(OP.close, closePayload(1000, reason)));
    assert.equal(closeCodeOf(await expectCloseOnly(client)), 1000);
    await t.expectClosed(id, 1000, reason);
  });

  test("a 126-byte close payload is a protocol error (1002)", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.close, closePayload(1000, "x".repeat(124))));
    assert.equal(closeCodeOf(await expectCloseOnly(client)), 1002);
    await t.expectClosed(id, 1002);
  });

  test("a close reason starting with U+FEFF keeps it", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.close, closePayload(4000, "\uFEFFbom")));
    assert.equal(closeCodeOf(await expectCloseOnly(client)), 4000);
    await t.expectClosed(id, 4000, "\uFEFFbom");
  });

  test("data before a close is echoed; data, pings and closes after it are ignored", async () => {
    const { client, id } = await t.open();
    client.write(
      new Uint8Array([
        ...clientFrame(OP.text, "before"),
        ...clientFrame(OP.close, closePayload(1000)),
        ...clientFrame(OP.text, "after"),
        ...clientFrame(OP.ping, "ping after"),
        ...clientFrame(OP.close, closePayload(3000)),
      ]),
    );
    const frames = await client.readUntilClose();
    assert.deepEqual(frames.map((f) => f.opcode), [OP.text, OP.close]);
    assert.equal(text(frames[0].payload), "before");
    assert.equal(closeCodeOf(frames[1]), 1000);
    assert.equal(client.pending.length, 0, "nothing follows the close frame");
    await t.expectClosed(id, 1000);
  });

  test("a close in the middle of a fragmented message is answered; the message is dropped", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.text, "half a ", { fin: false }));
    client.write(clientFrame(OP.close, closePayload(1001, "leaving")));
    client.write(clientFrame(OP.cont, "message"));
    const close = await expectCloseOnly(client);
    assert.equal(closeCodeOf(close), 1001);
    await t.expectClosed(id, 1001, "leaving");
  });

  test("a server-initiated close sends the frame, waits for the client's close, then closes TCP", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.text, "close-me"));
    const close = await client.nextFrame();
    assert.equal(close.opcode, OP.close);
    assert.equal(closeCodeOf(close), 4001);
    assert.equal(text(close.payload.subarray(2)), "bye");
    // The server must wait for our close frame (closeTimeout is the 10 s default here).
    await sleep(150);
    assert.equal(client.ended, false, "the server waits for the client's close frame");
    // Messages sent after the server's close are not delivered; our close is.
    client.write(clientFrame(OP.text, "too late"));
    client.write(clientFrame(OP.close, closePayload(1000, "ok")));
    await client.waitForEnd();
    assert.equal(client.pending.length, 0, "no echo and no second close frame");
    // The connection's close code is the one in the close frame it received (RFC 6455 §7.1.5).
    await t.expectClosed(id, 1000, "ok");
  });

  test("a client that drops TCP without a close frame is reported as 1006", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.text, "hello"));
    assert.equal(text((await client.nextFrame()).payload), "hello");
    client.destroy();
    await t.expectClosed(id, 1006, "");
  });

  test("a client that drops TCP in the middle of a frame is reported as 1006", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.binary, new Uint8Array(1000)).subarray(0, 100));
    await sleep(20);
    client.destroy();
    await t.expectClosed(id, 1006, "");
  });

  test("a client that half-closes TCP without a close frame is reported as 1006", async () => {
    const { client, id } = await t.open();
    client.socket.end();
    await client.waitForEnd();
    await t.expectClosed(id, 1006, "");
  });

  test("a protocol error is reported to the close callback with its code", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.text, "unmasked", { mask: false }));
    assert.equal(closeCodeOf(await expectCloseOnly(client)), 1002);
    await t.expectClosed(id, 1002);
  });
});

describe("closing: closeTimeout", () => {
  let t: ReturnType<typeof trackingServer>;
  before(() => {
    t = trackingServer(300);
  });
  after(() => t.server.stop());

  test("when the client never answers the server's close, the server closes TCP anyway", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.text, "close-me"));
    const close = await client.nextFrame();
    assert.equal(closeCodeOf(close), 4001);
    // We never send a close frame back; the server must give up on its own.
    await client.waitForEnd(5000);
    assert.equal(client.pending.length, 0);
    // No close frame was received, so the close code is 1006 (RFC 6455 §7.1.5).
    await t.expectClosed(id, 1006, "");
  });

  test("a client that keeps sending data but never a close frame is still dropped", async () => {
    const { client, id } = await t.open();
    client.write(clientFrame(OP.text, "close-me"));
    assert.equal(closeCodeOf(await client.nextFrame()), 4001);
    let sent = 0;
    while (!client.ended && sent < 100) {
      client.write(clientFrame(OP.text, "still talking"));
      client.write(clientFrame(OP.ping, "ping"));
      sent++;
      await sleep(50);
    }
    assert.equal(client.ended, true, "dropped although the client kept talking");
    assert.equal(client.pending.length, 0, "no echoes and no pongs after the close frame");
    await t.expectClosed(id, 1006, "");
  });
});

/**
 * The sender against a WritableStream whose writes the test completes by hand: batching, writes
 * coalesced behind the one in flight, `bufferedAmount`, send statuses and drain, masking, large
 * frames by reference, published frames as one slice of the arena, the close frame, ending, and
 * frames kept in order behind compression.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { constants, inflateRawSync } from "node:zlib";
import { Sender, type SenderOptions } from "../../src/connection/sender.ts";
import { FrameArena, type SendData } from "../../src/connection/message_frame.ts";
import { FrameParser } from "../../src/protocol/frame_parser.ts";
import { Opcode } from "../../src/protocol/opcodes.ts";
import type { DeflateAgreement } from "../../src/handshake/permessage_deflate.ts";

const encoder = new TextEncoder();

interface Frame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** The frames in `bytes`, parsed by the library's own (separately tested) parser. */
function framesOf(bytes: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  let header: Omit<Frame, "payload"> | null = null;
  const parser = new FrameParser({
    onFrameHeader(fin, rsv, opcode, masked) {
      header = { fin, rsv1: (rsv & 4) !== 0, opcode, masked };
      return true;
    },
    onFramePart: () => true,
    onFrame(payload) {
      frames.push({ ...header!, payload: payload.slice() });
      return true;
    },
    onMalformedHeader(cause) {
      throw new Error(cause);
    },
  });
  parser.push(bytes);
  return frames;
}

/**
 * A stand-in for a WritableStream's writer (all the sender uses is `write`): each write is
 * recorded the moment it is handed over and stays in flight until `complete()`, as a socket's do.
 */
function gatedSink() {
  const writes: Uint8Array[] = [];
  const same: Uint8Array[] = [];
  const gates: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const writer = {
    write(chunk: Uint8Array): Promise<void> {
      writes.push(chunk.slice());
      same.push(chunk);
      return new Promise((resolve, reject) => gates.push({ resolve, reject }));
    },
  } as unknown as WritableStreamDefaultWriter<Uint8Array>;
  return {
    writer,
    writes,
    /** The chunks as handed over (not copies), to check identity. */
    same,
    /** Completes the oldest write in flight, then lets the promises settle. */
    async complete(): Promise<void> {
      gates.shift()!.resolve();
      await settle();
    },
    async fail(): Promise<void> {
      gates.shift()!.reject(new Error("gone"));
      await settle();
    },
    get inFlight() {
      return gates.length;
    },
  };
}

/** Lets microtasks (and the writer's promise chains) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

function setUp(options: Partial<SenderOptions> = {}) {
  const sink = gatedSink();
  const events = { drains: 0, writeFailures: 0 };
  const sender = new Sender(sink.writer, {
    mask: false,
    backpressureLimit: 1 << 20,
    deflate: null,
    ...options,
  }, {
    onDrain: () => events.drains++,
    onWriteFailed: () => events.writeFailures++,
  });
  return { sink, sender, events };
}

const text = (s: string) => encoder.encode(s);
/** A published frame in a buffer of its own (an arena of its own). */
const encodeMessageFrame = (data: SendData) => new FrameArena().encode(data);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

describe("batching", () => {
  test("frames sent in one turn go out as one write, in order", async () => {
    const { sink, sender } = setUp();
    sender.sendMessage(Opcode.Text, text("a"), true, true);
    sender.sendMessage(Opcode.Binary, Uint8Array.of(1, 2), false, true);
    sender.sendControl(Opcode.Ping, text("p"));
    assert.equal(sink.writes.length, 0, "nothing written before the end of the turn");
    assert.equal(sender.bufferedAmount, 3 + 4 + 3);
    await settle();
    assert.equal(sink.writes.length, 1);
    assert.deepEqual(
      framesOf(sink.writes[0]).map((f) => [f.opcode, f.fin, f.masked, [...f.payload]]),
      [[Opcode.Text, true, false, [97]], [Opcode.Binary, true, false, [1, 2]], [
        Opcode.Ping,
        true,
        false,
        [112],
      ]],
    );
  });

  test("while a write is in flight, later turns pile into one write behind it", async () => {
    const { sink, sender } = setUp();
    sender.sendMessage(Opcode.Text, text("first"), true, true);
    await settle();
    assert.equal(sink.writes.length, 1);
    for (let i = 0; i < 5; i++) {
      sender.sendMessage(Opcode.Text, text(`m${i}`), true, true);
      await settle(); // a turn each
    }
    assert.equal(sink.writes.length, 1, "held behind the write in flight");
    assert.equal(sender.bufferedAmount, 7 + 5 * 4);
    await sink.complete();
    assert.equal(sink.writes.length, 2);
    assert.deepEqual(framesOf(sink.writes[1]).map((f) => decode(f.payload)), [
      "m0",
      "m1",
      "m2",
      "m3",
      "m4",
    ]);
    assert.equal(sender.bufferedAmount, 20);
    await sink.complete();
    assert.equal(sender.bufferedAmount, 0);
  });

  test("a large frame gets a write of its own, after what was batched before it", async () => {
    const { sink, sender } = setUp();
    const big = encodeMessageFrame(new Uint8Array(100_000).fill(7));
    sender.sendMessage(Opcode.Text, text("before"), true, true);
    sender.sendEncoded(big);
    sender.sendMessage(Opcode.Text, text("after"), true, true);
    await settle();
    assert.equal(sink.writes.length, 2, "the batch after it waits for the writes in flight");
    await sink.complete();
    assert.equal(sink.writes.length, 2);
    await sink.complete();
    assert.equal(sink.writes.length, 3);
    assert.equal(sink.same[1], big, "a shared large frame is written by reference");
    assert.deepEqual(
      sink.writes.flatMap((w) => framesOf(w)).map((f) => f.payload.length),
      [6, 100_000, 5],
    );
  });

  test("small shared frames are copied into the batch: one write for many publishes", async () => {
    const { sink, sender } = setUp();
    const frame = encodeMessageFrame("hello");
    for (let i = 0; i < 50; i++) sender.sendEncoded(frame);
    await settle();
    assert.equal(sink.writes.length, 1);
    assert.equal(framesOf(sink.writes[0]).length, 50);
  });

  test("published frames side by side in the arena go out as one slice of it, uncopied", async () => {
    const { sink, sender } = setUp();
    const arena = new FrameArena();
    const frames = [arena.encode("one"), arena.encode("two"), arena.encode("three")];
    for (const frame of frames) sender.sendEncoded(frame);
    assert.equal(sender.bufferedAmount, frames.reduce((n, f) => n + f.length, 0));
    await settle();
    assert.equal(sink.writes.length, 1);
    const written = sink.same[0];
    assert.equal(written.buffer, frames[0].buffer, "a slice of the arena, not a copy");
    assert.equal(written.byteOffset, frames[0].byteOffset);
    assert.deepEqual(framesOf(sink.writes[0]).map((f) => decode(f.payload)), [
      "one",
      "two",
      "three",
    ]);
  });

  test("frames of another buffer are never taken for the slice's continuation", async () => {
    const { sink, sender } = setUp();
    const first = new FrameArena();
    const second = new FrameArena();
    const a = first.encode("aaa");
    second.encode("xxx"); // so that the next frame of `second` starts where `a` ends
    const b = second.encode("bbb");
    assert.equal(b.byteOffset, a.byteOffset + a.length);
    sender.sendEncoded(a);
    sender.sendEncoded(b);
    await settle();
    const frames = sink.writes.flatMap((w) => framesOf(w));
    assert.deepEqual(frames.map((f) => decode(f.payload)), ["aaa", "bbb"]);
  });

  test("an arena that fills up leaves its frames as they are", async () => {
    const { sink, sender } = setUp();
    sender.sendMessage(Opcode.Text, text("hold"), true, false);
    await settle(); // a write in flight: the slices below wait behind it
    const arena = new FrameArena();
    const sent: string[] = [];
    for (let i = 0; i < 700; i++) {
      const message = `${i}:`.padEnd(1000, String.fromCharCode(97 + (i % 26)));
      sent.push(message);
      sender.sendEncoded(arena.encode(message)); // 700 KB: more than one arena buffer
    }
    for (let i = 0; i < 40 && sink.inFlight > 0; i++) await sink.complete();
    const frames = sink.writes.slice(1).flatMap((w) => framesOf(w));
    assert.deepEqual(frames.map((f) => decode(f.payload)), sent);
  });

  test("a large slice goes out by reference when the next frame lies elsewhere", async () => {
    const { sink, sender } = setUp();
    const first = new FrameArena();
    const slice: Uint8Array[] = [];
    for (let i = 0; i < 17; i++) slice.push(first.encode("s".repeat(1000))); // 17 KB together
    for (const frame of slice) sender.sendEncoded(frame);
    const second = new FrameArena();
    const elsewhere = [second.encode("e1"), second.encode("e2")];
    for (const frame of elsewhere) sender.sendEncoded(frame);
    await settle();
    assert.equal(sink.writes.length, 1, "the slice at once; the rest waits behind it");
    await sink.complete();
    assert.equal(sink.writes.length, 2);
    assert.equal(sink.same[0].buffer, slice[0].buffer, "the slice, not a copy of it");
    assert.equal(sink.same[0].length, slice.reduce((n, f) => n + f.length, 0));
    assert.equal(sink.same[1].buffer, elsewhere[0].buffer, "the next slice, not a copy either");
    const frames = sink.writes.flatMap((w) => framesOf(w)).map((f) => decode(f.payload));
    assert.deepEqual(frames, [...slice.map(() => "s".repeat(1000)), "e1", "e2"]);
  });

  test("a small slice is copied when the next frame lies elsewhere: one write", async () => {
    const { sink, sender } = setUp();
    const a = new FrameArena().encode("a".repeat(1000));
    const b = new FrameArena().encode("b");
    sender.sendEncoded(a);
    sender.sendEncoded(b);
    await settle();
    assert.equal(sink.writes.length, 1);
    assert.notEqual(sink.same[0].buffer, a.buffer);
    assert.deepEqual(framesOf(sink.writes[0]).map((f) => decode(f.payload)), [
      "a".repeat(1000),
      "b",
    ]);
  });

  test("a frame queued after the shared slice goes behind a copy of it, in order", async () => {
    const { sink, sender } = setUp();
    const arena = new FrameArena();
    sender.sendEncoded(arena.encode("published"));
    sender.sendMessage(Opcode.Text, text("direct"), true, false);
    const other = new FrameArena(); // not side by side with the first: copied too
    sender.sendEncoded(other.encode("elsewhere"));
    sender.sendEncoded(arena.encode("again"));
    await settle();
    assert.equal(sink.writes.length, 1);
    assert.deepEqual(framesOf(sink.writes[0]).map((f) => decode(f.payload)), [
      "published",
      "direct",
      "elsewhere",
      "again",
    ]);
  });

  test("the shared slice waits behind a write in flight, then goes out whole", async () => {
    const { sink, sender } = setUp();
    sender.sendMessage(Opcode.Text, text("first"), true, false);
    await settle();
    assert.equal(sink.inFlight, 1);
    const arena = new FrameArena();
    for (let i = 0; i < 3; i++) {
      sender.sendEncoded(arena.encode(`p${i}`));
      await settle(); // later turns: the slice grows while the first write is in flight
    }
    assert.equal(sink.writes.length, 1);
    await sink.complete();
    assert.equal(sink.writes.length, 2);
    assert.deepEqual(framesOf(sink.writes[1]).map((f) => decode(f.payload)), ["p0", "p1", "p2"]);
    assert.equal(sink.same[1].buffer, arena.encode("x").buffer);
  });

  test("masking: every frame masked with its own key, the payload intact", async () => {
    const { sink, sender } = setUp({ mask: true });
    for (let i = 0; i < 4; i++) sender.sendMessage(Opcode.Text, text("same text"), true, true);
    await settle();
    const frames = framesOf(sink.writes[0]);
    assert.ok(frames.every((f) => f.masked && decode(f.payload) === "same text"));
    // The masking keys sit at bytes 2..6 of each 15-byte frame: all different.
    const keys = new Set(frames.map((_, i) => sink.writes[0].slice(i * 15 + 2, i * 15 + 6).join()));
    assert.equal(keys.size, 4);
  });
});

describe("send statuses and drain", () => {
  test("sent, then backpressure past the limit, then dropped; one drain when it empties", async () => {
    const { sink, sender, events } = setUp({ backpressureLimit: 100 });
    assert.equal(sender.sendMessage(Opcode.Binary, new Uint8Array(50), false, true), "sent");
    assert.equal(
      sender.sendMessage(Opcode.Binary, new Uint8Array(50), false, true),
      "backpressure",
    );
    assert.equal(sender.isOverLimit, true);
    assert.equal(sender.sendMessage(Opcode.Binary, new Uint8Array(1), false, true), "dropped");
    assert.equal(sender.sendControl(Opcode.Ping, new Uint8Array(0)), "dropped");
    assert.equal(sender.sendEncoded(encodeMessageFrame("x")), "dropped");
    assert.equal(sender.bufferedAmount, 104, "the dropped ones were not queued");
    await settle();
    assert.equal(events.drains, 0);
    await sink.complete();
    assert.equal(sender.bufferedAmount, 0);
    assert.equal(events.drains, 1);
    assert.equal(sender.sendMessage(Opcode.Binary, new Uint8Array(1), false, true), "sent");
    await settle();
    await sink.complete();
    assert.equal(events.drains, 1, "no drain without backpressure");
  });

  test("drained() resolves when the socket has taken everything", async () => {
    const { sink, sender } = setUp();
    let drained = false;
    sender.sendMessage(Opcode.Text, text("x"), true, true);
    sender.drained().then(() => drained = true);
    await settle();
    assert.equal(drained, false);
    await sink.complete();
    assert.equal(drained, true);
  });

  test("a failed write is reported", async () => {
    const { sink, sender, events } = setUp();
    sender.sendMessage(Opcode.Text, text("x"), true, true);
    await settle();
    await sink.fail();
    assert.equal(events.writeFailures, 1);
  });
});

describe("closing", () => {
  test("the close frame is written at once, with everything queued before it", () => {
    const { sink, sender } = setUp();
    sender.sendMessage(Opcode.Text, text("last words"), true, true);
    sender.sendClose(Uint8Array.of(0x03, 0xe8));
    assert.equal(sink.writes.length, 1, "written without waiting for the end of the turn");
    assert.deepEqual(framesOf(sink.writes[0]).map((f) => f.opcode), [Opcode.Text, Opcode.Close]);
  });

  test("end() resolves once written; frames after it are not sent", async () => {
    const { sink, sender } = setUp();
    sender.sendMessage(Opcode.Text, text("a"), true, true);
    let ended = false;
    sender.end().then(() => ended = true);
    sender.sendMessage(Opcode.Text, text("too late"), true, true);
    await settle();
    assert.equal(ended, false);
    await sink.complete();
    assert.equal(ended, true);
    await settle();
    assert.equal(sink.writes.length, 1);
    assert.deepEqual(framesOf(sink.writes[0]).map((f) => decode(f.payload)), ["a"]);
  });

  test("stop() drops what is queued and wakes waiters", async () => {
    const { sink, sender } = setUp();
    sender.sendMessage(Opcode.Text, text("never"), true, true);
    const drained = sender.drained();
    sender.stop();
    await drained;
    assert.equal(sender.bufferedAmount, 0);
    await settle();
    assert.equal(sink.writes.length, 0);
  });
});

describe("with permessage-deflate", () => {
  // With context takeover, so that compression goes through the stream (asynchronously).
  const agreement: DeflateAgreement = {
    sendNoContextTakeover: false,
    receiveNoContextTakeover: true,
    sendWindowBits: 15,
    receiveWindowBits: 15,
    level: 1,
    memLevel: 8,
    threshold: 100,
  };
  const inflate = (payload: Uint8Array) =>
    decode(
      inflateRawSync(Buffer.concat([payload, Uint8Array.of(0, 0, 0xff, 0xff)]), {
        finishFlush: constants.Z_SYNC_FLUSH,
      }),
    );

  test("without context takeover a message is compressed at once, nothing to wait for", async () => {
    const { sink, sender } = setUp({ deflate: { ...agreement, sendNoContextTakeover: true } });
    const long = "compress me ".repeat(100);
    assert.equal(sender.sendMessage(Opcode.Text, text(long), true, true), "sent");
    const buffered = sender.bufferedAmount;
    assert.ok(buffered > 0 && buffered < long.length / 4, `compressed already: ${buffered}`);
    sender.sendMessage(Opcode.Text, text("short"), true, true);
    while (sink.writes.length < 1) await settle();
    for (let i = 0; i < 20 && sink.inFlight > 0; i++) await sink.complete();
    const frames = sink.writes.flatMap((w) => framesOf(w));
    assert.deepEqual(frames.map((f) => [f.opcode, f.rsv1]), [[Opcode.Text, true], [
      Opcode.Text,
      false,
    ]]);
    assert.equal(inflate(frames[0].payload), long); // inflated alone: no context kept
  });

  test("frames sent after a compressed message wait behind it, in order", async () => {
    const { sink, sender } = setUp({ deflate: agreement });
    const long = "compress me ".repeat(100);
    assert.equal(sender.sendMessage(Opcode.Text, text(long), true, true), "sent");
    assert.ok(sender.bufferedAmount >= long.length, "counted while compressing");
    sender.sendControl(Opcode.Ping, text("behind"));
    sender.sendMessage(Opcode.Text, text("short"), true, true); // below the threshold
    sender.sendEncoded(encodeMessageFrame("published"));
    sender.sendClose(new Uint8Array(0));
    let ended = false;
    sender.end().then(() => ended = true);
    while (sink.writes.length < 1) await settle();
    for (let i = 0; i < 20 && sink.inFlight > 0; i++) await sink.complete();
    await settle();
    assert.ok(ended);
    const frames = sink.writes.flatMap((w) => framesOf(w));
    assert.deepEqual(frames.map((f) => [f.opcode, f.rsv1]), [
      [Opcode.Text, true],
      [Opcode.Ping, false],
      [Opcode.Text, false],
      [Opcode.Text, false],
      [Opcode.Close, false],
    ]);
    assert.equal(inflate(frames[0].payload), long);
    assert.deepEqual(frames.slice(1, 4).map((f) => decode(f.payload)), [
      "behind",
      "short",
      "published",
    ]);
    assert.ok(frames[0].payload.length < long.length / 4, "actually compressed");
  });

  test("compress: false and small messages go uncompressed", async () => {
    const { sink, sender } = setUp({ deflate: agreement });
    sender.sendMessage(Opcode.Binary, new Uint8Array(500), false, false);
    sender.sendMessage(Opcode.Binary, new Uint8Array(50), false, true);
    await settle();
    assert.deepEqual(framesOf(sink.writes[0]).map((f) => f.rsv1), [false, false]);
  });
});

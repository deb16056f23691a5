import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Receiver } from "../../src/protocol/receiver.ts";
import { clientFrame, closePayload, OP } from "../helpers/wire.ts";
import { concat, hex } from "../helpers/bytes.ts";
import { randomBytes } from "../helpers/random.ts";
import { type Event, receiverOptions, record, run } from "./_receiver.ts";

/** Header length of a frame built by clientFrame with this payload length. */
function headerLength(payloadLength: number, masked = true): number {
  return (payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/** Feeds bytes, then more well-formed frames, and checks nothing is reported after the first. */
function assertStopsWith(bytes: Uint8Array, expected: Event[], options = {}): void {
  const { receiver, events } = record(options);
  receiver.push(bytes);
  assert.deepEqual(events, expected);
  assert.equal(receiver.stopped, true);
  receiver.push(clientFrame(OP.text, "after"));
  receiver.push(clientFrame(OP.text, "after", { mask: false }));
  receiver.push(clientFrame(OP.ping, "after"));
  receiver.push(clientFrame(OP.close, closePayload(1000)));
  assert.deepEqual(events, expected, "nothing after the first error");
}

describe("masking rules", () => {
  test("an unmasked frame in the server role is 1002", () => {
    for (const op of [OP.text, OP.binary, OP.ping, OP.close]) {
      assertStopsWith(clientFrame(op, "", { mask: false }), [["error", 1002]]);
    }
  });

  test("a masked frame in the client role is 1002", () => {
    for (const op of [OP.text, OP.binary, OP.pong, OP.close]) {
      assertStopsWith(clientFrame(op, ""), [["error", 1002]], { expectMasked: false });
    }
  });

  test("a zero mask key is still a masked frame", () => {
    const zero = new Uint8Array(4);
    assert.deepEqual(run(clientFrame(OP.text, "hi", { mask: zero })), [["text", "hi"]]);
    assert.deepEqual(run(clientFrame(OP.text, "hi", { mask: zero }), { expectMasked: false }), [
      ["error", 1002],
    ]);
  });
});

describe("reserved bits and opcodes", () => {
  for (let rsv = 1; rsv <= 7; rsv++) {
    test(`RSV bits ${rsv.toString(2).padStart(3, "0")} are 1002`, () => {
      assertStopsWith(clientFrame(OP.text, "x", { rsv }), [["error", 1002]]);
      assertStopsWith(clientFrame(OP.ping, "", { rsv }), [["error", 1002]]);
    });
  }

  for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    test(`reserved opcode 0x${op.toString(16)} is 1002`, () => {
      assertStopsWith(clientFrame(op, "x"), [["error", 1002]]);
      // Also after a valid message, and inside a fragmented one.
      assertStopsWith(concat(clientFrame(OP.text, "ok"), clientFrame(op)), [
        ["text", "ok"],
        ["error", 1002],
      ]);
      assertStopsWith(
        concat(clientFrame(OP.binary, [1], { fin: false }), clientFrame(op, "", { fin: false })),
        [["error", 1002]],
      );
    });
  }
});

describe("control frames", () => {
  test("a ping or pong of 125 bytes is fine, 126 is 1002", () => {
    const p125 = randomBytes(125, 1);
    const events = run(concat(clientFrame(OP.ping, p125), clientFrame(OP.pong, p125)));
    assert.equal(events.length, 2);
    assert.deepEqual(events.map((e) => e[0]), ["ping", "pong"]);
    for (const op of [OP.ping, OP.pong, OP.close]) {
      assertStopsWith(clientFrame(op, randomBytes(126, 2)), [["error", 1002]]);
    }
  });

  test("a short control frame with a 16- or 64-bit length field is fine", () => {
    assert.deepEqual(run(clientFrame(OP.ping, "a", { lengthBits: 16 })), [["ping", "61"]]);
    assert.deepEqual(run(clientFrame(OP.pong, "b", { lengthBits: 64 })), [["pong", "62"]]);
  });

  test("an oversized control frame is refused at its header, before its payload", () => {
    const frame = clientFrame(OP.ping, randomBytes(200, 3));
    const { receiver, events } = record();
    receiver.push(frame.subarray(0, headerLength(200)));
    assert.deepEqual(events, [["error", 1002]]);
  });

  test("a control frame with FIN=0 is 1002", () => {
    for (const op of [OP.ping, OP.pong, OP.close]) {
      assertStopsWith(clientFrame(op, "x", { fin: false }), [["error", 1002]]);
    }
  });

  test("pings and pongs between fragments are delivered in order", () => {
    const stream = concat(
      clientFrame(OP.binary, [1], { fin: false }),
      clientFrame(OP.ping, "1"),
      clientFrame(OP.cont, [2], { fin: false }),
      clientFrame(OP.pong, "2"),
      clientFrame(OP.ping, ""),
      clientFrame(OP.cont, [3]),
    );
    assert.deepEqual(run(stream), [["ping", "31"], ["pong", "32"], ["ping", ""], [
      "binary",
      "010203",
    ]]);
  });
});

describe("fragmentation", () => {
  test("a continuation without a message to continue is 1002", () => {
    assertStopsWith(clientFrame(OP.cont, "x"), [["error", 1002]]);
    assertStopsWith(clientFrame(OP.cont, "x", { fin: false }), [["error", 1002]]);
    // Also right after a complete (unfragmented, then fragmented) message.
    assertStopsWith(concat(clientFrame(OP.text, "a"), clientFrame(OP.cont, "b")), [
      ["text", "a"],
      ["error", 1002],
    ]);
    assertStopsWith(
      concat(
        clientFrame(OP.text, "a", { fin: false }),
        clientFrame(OP.cont, "b"),
        clientFrame(OP.cont, "c"),
      ),
      [["text", "ab"], ["error", 1002]],
    );
  });

  test("a new text or binary frame inside a fragmented message is 1002", () => {
    for (const first of [OP.text, OP.binary]) {
      for (const next of [OP.text, OP.binary]) {
        for (const fin of [true, false]) {
          assertStopsWith(
            concat(clientFrame(first, "a", { fin: false }), clientFrame(next, "b", { fin })),
            [["error", 1002]],
          );
        }
      }
    }
  });

  test("empty fragments are fine", () => {
    const stream = concat(
      clientFrame(OP.text, "", { fin: false }),
      clientFrame(OP.cont, "", { fin: false }),
      clientFrame(OP.cont, ""),
      clientFrame(OP.binary, new Uint8Array(0), { fin: false }),
      clientFrame(OP.cont, new Uint8Array(0)),
    );
    assert.deepEqual(run(stream), [["text", ""], ["binary", ""]]);
  });

  test("a binary message in many fragments is reassembled in order", () => {
    const payload = randomBytes(1000, 4);
    const frames: Uint8Array[] = [];
    for (let at = 0; at < 1000; at += 7) {
      frames.push(clientFrame(at === 0 ? OP.binary : OP.cont, payload.subarray(at, at + 7), {
        fin: at + 7 >= 1000,
      }));
    }
    const events = run(concat(...frames));
    assert.equal(events.length, 1);
    assert.equal(events[0][0], "binary");
    assert.equal(events[0][1], hex(payload));
  });
});

describe("limits", () => {
  test("a single frame over maxPayload is 1009 at its header, before the payload", () => {
    for (const [max, length] of [[10, 11], [125, 126], [1000, 65536], [65535, 65536]]) {
      const frame = clientFrame(OP.binary, new Uint8Array(length));
      const { receiver, events } = record({ maxPayload: max });
      receiver.push(frame.subarray(0, headerLength(length)));
      assert.deepEqual(events, [["error", 1009]], `${length} > ${max}`);
      receiver.push(frame.subarray(headerLength(length)));
      assert.deepEqual(events, [["error", 1009]]);
    }
    // Exactly at the limit is fine, for text and binary.
    assert.deepEqual(run(clientFrame(OP.text, "x".repeat(10)), { maxPayload: 10 }), [
      ["text", "x".repeat(10)],
    ]);
    assert.equal(
      run(clientFrame(OP.binary, new Uint8Array(10)), { maxPayload: 10 })[0][0],
      "binary",
    );
  });

  test("a header claiming a huge 64-bit length is 1009 without allocating", () => {
    const header = clientFrame(OP.binary, new Uint8Array(0), { lengthBits: 64 });
    header.set([0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 2); // 2^53 - 1
    assertStopsWith(header, [["error", 1009]], { maxPayload: 1 << 20 });
  });

  test("a 64-bit length with the top bit set is 1002", () => {
    const header = clientFrame(OP.binary, new Uint8Array(0), { lengthBits: 64 });
    header.set([0x80, 0, 0, 0, 0, 0, 0, 1], 2);
    assertStopsWith(header, [["error", 1002]]);
  });

  test("maxPayload is summed across fragments and refused at the header that crosses it", () => {
    const { receiver, events } = record({ maxPayload: 10 });
    receiver.push(clientFrame(OP.text, "abcd", { fin: false }));
    receiver.push(clientFrame(OP.ping, "pings do not count toward the message"));
    receiver.push(clientFrame(OP.cont, "efgh", { fin: false }));
    assert.equal(events.length, 1);
    const third = clientFrame(OP.cont, "ijk");
    receiver.push(third.subarray(0, headerLength(3)));
    assert.deepEqual(events.slice(1), [["error", 1009]]);
    receiver.push(third.subarray(headerLength(3)));
    assert.equal(events.length, 2);
  });

  test("fragments summing to exactly maxPayload pass, and the count resets per message", () => {
    const message = concat(
      clientFrame(OP.binary, [1, 2, 3, 4], { fin: false }),
      clientFrame(OP.cont, [5, 6, 7, 8], { fin: false }),
      clientFrame(OP.cont, [9, 10]),
    );
    assert.deepEqual(run(concat(message, message, message), { maxPayload: 10 }), [
      ["binary", "0102030405060708090a"],
      ["binary", "0102030405060708090a"],
      ["binary", "0102030405060708090a"],
    ]);
  });

  test("control frames are not limited by a small maxPayload", () => {
    assert.deepEqual(run(clientFrame(OP.ping, "0123456789abc"), { maxPayload: 4 }), [
      ["ping", "30313233343536373839616263"],
    ]);
  });

  test("more than maxFragments fragments is 1009, at the header of the extra one", () => {
    const frames = [
      clientFrame(OP.text, "a", { fin: false }),
      clientFrame(OP.cont, "b", { fin: false }),
      clientFrame(OP.ping, ""),
      clientFrame(OP.cont, "c", { fin: false }),
    ];
    const { receiver, events } = record({ maxFragments: 3 });
    receiver.push(concat(...frames));
    assert.deepEqual(events, [["ping", ""]]);
    const fourth = clientFrame(OP.cont, "d");
    receiver.push(fourth.subarray(0, headerLength(1)));
    assert.deepEqual(events, [["ping", ""], ["error", 1009]]);
    receiver.push(fourth.subarray(headerLength(1)));
    assert.equal(events.length, 2);
  });

  test("exactly maxFragments fragments pass, and the count resets per message", () => {
    const message = concat(
      clientFrame(OP.text, "a", { fin: false }),
      clientFrame(OP.cont, "b", { fin: false }),
      clientFrame(OP.cont, "c"),
    );
    assert.deepEqual(
      run(concat(message, message, clientFrame(OP.text, "d")), { maxFragments: 3 }),
      [
        ["text", "abc"],
        ["text", "abc"],
        ["text", "d"],
      ],
    );
  });

  test("a frame over maxFrameSize is 1009 at its header, even under maxPayload", () => {
    const frame = clientFrame(OP.binary, new Uint8Array(300));
    const { receiver, events } = record({ maxPayload: 1000, maxFrameSize: 299 });
    receiver.push(frame.subarray(0, headerLength(300)));
    assert.deepEqual(events, [["error", 1009]]);
    receiver.push(frame.subarray(headerLength(300)));
    assert.equal(events.length, 1);
  });

  test("control frames are not limited by maxFrameSize (nor by its maxPayload default)", () => {
    const ping = clientFrame(OP.ping, "0123456789");
    const close = clientFrame(OP.close, closePayload(1000, "a reason longer than the limits"));
    for (const options of [{ maxPayload: 4 }, { maxPayload: 1000, maxFrameSize: 4 }]) {
      assert.deepEqual(run(concat(ping, close), options), [
        ["ping", "30313233343536373839"],
        ["close", 1000, "a reason longer than the limits"],
      ]);
    }
  });

  test("fragments each within maxFrameSize may sum past it, up to maxPayload", () => {
    const options = { maxPayload: 10, maxFrameSize: 4 };
    const message = concat(
      clientFrame(OP.text, "abcd", { fin: false }),
      clientFrame(OP.cont, "efgh", { fin: false }),
      clientFrame(OP.cont, "ij"),
    );
    assert.deepEqual(run(message, options), [["text", "abcdefghij"]]);
    assertStopsWith(clientFrame(OP.text, "abcde"), [["error", 1009]], options);
    assertStopsWith(
      concat(clientFrame(OP.text, "abcd", { fin: false }), clientFrame(OP.cont, "efghi")),
      [["error", 1009]],
      options,
    );
  });

  test("a limit error inside a fragmented message drops it", () => {
    assertStopsWith(
      concat(clientFrame(OP.text, "abc", { fin: false }), clientFrame(OP.cont, "defgh")),
      [["error", 1009]],
      { maxPayload: 5 },
    );
  });
});

describe("after a failure or close nothing more is read", () => {
  test("stop() discards a partial message and later input", () => {
    const { receiver, events } = record();
    receiver.push(clientFrame(OP.text, "abc", { fin: false }));
    const tail = clientFrame(OP.cont, "def");
    receiver.push(tail.subarray(0, 5));
    receiver.stop();
    receiver.push(tail.subarray(5));
    receiver.push(clientFrame(OP.text, "x"));
    assert.deepEqual(events, []);
    assert.equal(receiver.stopped, true);
  });

  test("an error mid-push drops the rest of that push", () => {
    const stream = concat(
      clientFrame(OP.text, "one"),
      clientFrame(OP.text, "two", { rsv: 4 }),
      clientFrame(OP.text, "three"),
    );
    for (let cut = 0; cut <= stream.length; cut++) {
      const { receiver, events } = record();
      receiver.push(stream.subarray(0, cut));
      receiver.push(stream.subarray(cut));
      assert.deepEqual(events, [["text", "one"], ["error", 1002]], `split at ${cut}`);
    }
  });

  test("a handler that calls stop() from onMessage ends reading at once", () => {
    const seen: string[] = [];
    const stopping: Receiver = new Receiver({
      onMessage(data) {
        seen.push(data as string);
        stopping.stop();
      },
      onPing() {
        seen.push("ping");
      },
      onPong() {},
      onClose() {
        seen.push("close");
      },
      onProtocolError() {
        seen.push("error");
      },
    }, receiverOptions({ maxPayload: 100, maxFragments: 10 }));
    stopping.push(concat(
      clientFrame(OP.text, "first"),
      clientFrame(OP.text, "second"),
      clientFrame(OP.ping),
    ));
    assert.deepEqual(seen, ["first"]);
  });
});

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { bytes, clientFrame, closePayload, OP } from "../helpers/wire.ts";
import { concat } from "../helpers/bytes.ts";
import { type Event, record, run } from "./_receiver.ts";

const VALID: Array<[string, string]> = [
  ["ASCII", "hex:48 65 6c 6c 6f"],
  ["2-byte U+0080 and U+07FF", "hex:c2 80 df bf"],
  ["3-byte U+0800, U+20AC, U+FFFF", "hex:e0 a0 80 e2 82 ac ef bf bf"],
  ["3-byte U+D7FF and U+E000 around the surrogates", "hex:ed 9f bf ee 80 80"],
  ["4-byte U+10000 and U+1D11E", "hex:f0 90 80 80 f0 9d 84 9e"],
  ["4-byte U+10FFFF", "hex:f4 8f bf bf"],
  ["κόσμε", "hex:ce ba e1 bd b9 cf 83 ce bc ce b5"],
  ["NUL", "hex:00"],
];

const INVALID: Array<[string, string]> = [
  ["overlong NUL c0 80", "hex:c0 80"],
  ["overlong c1 bf", "hex:c1 bf"],
  ["overlong 3-byte e0 80 80", "hex:e0 80 80"],
  ["overlong 4-byte f0 80 80 80", "hex:f0 80 80 80"],
  ["surrogate ed a0 80", "hex:ed a0 80"],
  ["surrogate ed bf bf", "hex:ed bf bf"],
  ["above U+10FFFF f4 90 80 80", "hex:f4 90 80 80"],
  ["f5 lead byte", "hex:f5 80 80 80"],
  ["ff byte", "hex:ff"],
  ["lone continuation", "hex:80"],
  ["continuation after ASCII", "hex:61 bf 61"],
  ["2-byte truncated at end", "hex:61 c3"],
  ["3-byte truncated at end", "hex:61 e2 82"],
  ["4-byte truncated at end", "hex:61 f0 9d 84"],
  ["lead byte followed by ASCII", "hex:e2 41 41"],
];

const decode = (hex: string) => new TextDecoder().decode(bytes(hex));

describe("UTF-8 in text messages", () => {
  for (const [name, data] of VALID) {
    test(`accepts ${name}`, () => {
      const expected: Event[] = [["text", decode(data)]];
      assert.deepEqual(run(clientFrame(OP.text, data)), expected);
      // And byte by byte, and as one fragment per byte.
      const { receiver, events } = record();
      const frame = clientFrame(OP.text, data);
      for (const b of frame) receiver.push(Uint8Array.of(b));
      assert.deepEqual(events, expected);
      const payload = bytes(data);
      const fragments = Array.from(
        payload,
        (b, i) => clientFrame(i === 0 ? OP.text : OP.cont, [b], { fin: i === payload.length - 1 }),
      );
      assert.deepEqual(run(concat(...fragments)), expected);
    });
  }

  for (const [name, data] of INVALID) {
    test(`refuses ${name} with 1007`, () => {
      assert.deepEqual(run(clientFrame(OP.text, data)), [["error", 1007]]);
      const payload = bytes(data);
      // As a fragmented message (split after the first byte), and in the client role.
      const fragmented = concat(
        clientFrame(OP.text, payload.subarray(0, 1), { fin: false }),
        clientFrame(OP.cont, payload.subarray(1)),
      );
      assert.deepEqual(run(fragmented), [["error", 1007]]);
      assert.deepEqual(run(clientFrame(OP.text, data, { mask: false }), { expectMasked: false }), [
        ["error", 1007],
      ]);
      // Binary messages are not UTF-8 checked.
      assert.equal(run(clientFrame(OP.binary, data))[0][0], "binary");
    });
  }

  test("a text message after a bad-UTF-8 one is not reported", () => {
    const { receiver, events } = record();
    receiver.push(concat(clientFrame(OP.text, "hex:ff"), clientFrame(OP.text, "ok")));
    receiver.push(clientFrame(OP.text, "later"));
    assert.deepEqual(events, [["error", 1007]]);
  });

  test("decoder state does not leak from one message to the next", () => {
    // A message that ends mid-character is refused; a fresh receiver proves the next one works,
    // and within one receiver, consecutive complete messages stay independent.
    const stream = concat(
      clientFrame(OP.text, "hex:e2 82", { fin: false }),
      clientFrame(OP.cont, "hex:ac"),
      clientFrame(OP.text, "hex:f0 9d", { fin: false }),
      clientFrame(OP.ping, "x"),
      clientFrame(OP.cont, "hex:84 9e"),
      clientFrame(OP.text, "plain"),
    );
    assert.deepEqual(run(stream), [["text", "€"], ["ping", "78"], ["text", "𝄞"], [
      "text",
      "plain",
    ]]);
  });
});

describe("U+FEFF is an ordinary character", () => {
  test("a leading byte order mark is kept in every delivery path", () => {
    const text = "\uFEFFhi\uFEFF";
    const frame = clientFrame(OP.text, text);
    assert.deepEqual(run(frame), [["text", text]]);
    for (let cut = 0; cut <= frame.length; cut++) {
      const { receiver, events } = record();
      receiver.push(frame.subarray(0, cut));
      receiver.push(frame.subarray(cut));
      assert.deepEqual(events, [["text", text]], `split at ${cut}`);
    }
    const payload = bytes(text);
    for (let a = 0; a <= payload.length; a++) {
      const stream = concat(
        clientFrame(OP.text, payload.subarray(0, a), { fin: false }),
        clientFrame(OP.cont, payload.subarray(a)),
        clientFrame(OP.text, text, { fin: false }),
        clientFrame(OP.cont, ""),
      );
      assert.deepEqual(run(stream), [["text", text], ["text", text]], `fragment split at ${a}`);
    }
    assert.deepEqual(run(clientFrame(OP.close, closePayload(1000, "\uFEFFbye"))), [
      ["close", 1000, "\uFEFFbye"],
    ]);
  });
});

describe("UTF-8 fails fast", () => {
  test("a fragmented message fails at the first fragment holding the bad byte", () => {
    for (const bad of ["hex:c0 80", "hex:e0 80", "hex:ed a0", "hex:f4 90", "hex:80", "hex:ff"]) {
      const { receiver, events } = record();
      receiver.push(clientFrame(OP.text, concat(bytes("fine"), bytes(bad)), { fin: false }));
      assert.deepEqual(events, [["error", 1007]], `${bad}: reported before later fragments`);
      receiver.push(clientFrame(OP.cont, "more"));
      assert.deepEqual(events, [["error", 1007]]);
    }
  });

  test("a bad byte in a middle fragment fails at that fragment", () => {
    const { receiver, events } = record();
    receiver.push(clientFrame(OP.text, "one", { fin: false }));
    receiver.push(clientFrame(OP.cont, "two", { fin: false }));
    assert.deepEqual(events, []);
    receiver.push(clientFrame(OP.cont, "hex:74 68 72 ff", { fin: false }));
    assert.deepEqual(events, [["error", 1007]]);
  });

  test("a single frame in pieces fails as soon as the piece with the bad byte arrives", () => {
    const cases: Array<[string, number]> = [
      // [payload prefix, offset of the byte that makes it invalid]
      ["hex:c0 80", 0],
      ["hex:e0 80 80", 1],
      ["hex:ed a0 80", 1],
      ["hex:f4 90 80 80", 1],
      ["hex:80", 0],
      ["hex:ff", 0],
      ["hex:e2 41", 1],
    ];
    for (const [bad, badAt] of cases) {
      const prefix = bytes("x".repeat(200));
      const payload = concat(prefix, bytes(bad), bytes("y".repeat(800)));
      const frame = clientFrame(OP.text, payload);
      const headerLength = frame.length - payload.length;
      const badEnd = headerLength + prefix.length + badAt + 1;
      const { receiver, events } = record();
      receiver.push(frame.subarray(0, badEnd - 1));
      assert.deepEqual(events, [], `${bad}: nothing before the bad byte`);
      receiver.push(frame.subarray(badEnd - 1, badEnd));
      assert.deepEqual(events, [["error", 1007]], `${bad}: reported with the bad byte`);
      receiver.push(frame.subarray(badEnd));
      assert.deepEqual(events, [["error", 1007]]);
    }
  });

  test("a frame too large to ever finish still fails at the bad byte", () => {
    const { receiver, events } = record({ maxPayload: 1 << 30 });
    // A header promising 100 MB; only the first bytes ever arrive.
    const header = clientFrame(OP.text, new Uint8Array(0), { lengthBits: 64 });
    const lengthBytes = [0, 0, 0, 0, 0x05, 0xf5, 0xe1, 0x00];
    header.set(lengthBytes, 2);
    receiver.push(header);
    // The mask is 37 fa 21 3d; send "ab" then 0xff, masked.
    receiver.push(Uint8Array.of(0x61 ^ 0x37, 0x62 ^ 0xfa));
    assert.deepEqual(events, []);
    receiver.push(Uint8Array.of(0xff ^ 0x21));
    assert.deepEqual(events, [["error", 1007]]);
  });

  test("a valid character split across pieces of one frame is accepted", () => {
    const text = "a€b𝄞c\u{10FFFF}";
    const frame = clientFrame(OP.text, "x".repeat(130) + text);
    for (let cut = 0; cut <= frame.length; cut++) {
      const { receiver, events } = record();
      receiver.push(frame.subarray(0, cut));
      receiver.push(frame.subarray(cut));
      assert.deepEqual(events, [["text", "x".repeat(130) + text]], `split at ${cut}`);
    }
  });

  test("a valid character split across fragments, and across pieces of them, is accepted", () => {
    const payload = bytes("\u{10FFFF}€");
    for (let a = 1; a < payload.length; a++) {
      const stream = concat(
        clientFrame(OP.text, payload.subarray(0, a), { fin: false }),
        clientFrame(OP.pong, "p"),
        clientFrame(OP.cont, payload.subarray(a)),
        clientFrame(OP.close, closePayload(1000)),
      );
      for (const piece of [1, 3, stream.length]) {
        const { receiver, events } = record();
        for (let at = 0; at < stream.length; at += piece) {
          receiver.push(stream.subarray(at, at + piece));
        }
        assert.deepEqual(
          events,
          [["pong", "70"], ["text", "\u{10FFFF}€"], ["close", 1000, ""]],
          `fragment split at ${a}, pieces of ${piece}`,
        );
      }
    }
  });

  test("a message truncated mid-character fails only at its final fragment", () => {
    const { receiver, events } = record();
    receiver.push(clientFrame(OP.text, "hex:61 f0 9d", { fin: false }));
    assert.deepEqual(events, []);
    receiver.push(clientFrame(OP.cont, "hex:84", { fin: false }));
    assert.deepEqual(events, []);
    receiver.push(clientFrame(OP.cont, new Uint8Array(0)));
    assert.deepEqual(events, [["error", 1007]]);
  });
});

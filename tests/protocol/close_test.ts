import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CloseCode, isValidCloseCode } from "../../src/protocol/close_codes.ts";
import {
  encodeClosePayload,
  MAX_CLOSE_REASON_BYTES,
  parseClosePayload,
} from "../../src/protocol/close_frame.ts";
import { bytes, clientFrame, closePayload, OP } from "../helpers/wire.ts";
import { concat } from "../helpers/bytes.ts";
import { record, run } from "./_receiver.ts";

const VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999];
const VALID_MORE = [4000, 4001, 4500, 4999];
const INVALID = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1999, 2000, 2999, 5000, 65535];

describe("close codes on the wire", () => {
  test("isValidCloseCode over the whole 16-bit range matches the RFC ranges", () => {
    for (let code = 0; code <= 0xffff; code++) {
      const expected = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
        (code >= 3000 && code <= 4999);
      assert.equal(isValidCloseCode(code), expected, `code ${code}`);
    }
  });

  for (const code of [...VALID, ...VALID_MORE]) {
    test(`received close ${code} is accepted and reported`, () => {
      assert.deepEqual(run(clientFrame(OP.close, closePayload(code, "why"))), [
        ["close", code, "why"],
      ]);
    });
  }

  for (const code of INVALID) {
    test(`received close ${code} is a protocol error (1002)`, () => {
      assert.deepEqual(run(clientFrame(OP.close, closePayload(code))), [["error", 1002]]);
      assert.deepEqual(parseClosePayload(closePayload(code, "r")).ok, false);
    });
  }

  test("an empty close payload is reported as 1005", () => {
    assert.deepEqual(run(clientFrame(OP.close)), [["close", 1005, ""]]);
    assert.deepEqual(parseClosePayload(new Uint8Array(0)), {
      ok: true,
      code: CloseCode.NoStatusReceived,
      reason: "",
    });
  });

  test("a 1-byte close payload is a protocol error", () => {
    assert.deepEqual(run(clientFrame(OP.close, [0x03])), [["error", 1002]]);
    const parsed = parseClosePayload(Uint8Array.of(0x03));
    assert.equal(parsed.ok, false);
    assert.equal(!parsed.ok && parsed.failure.code, 1002);
  });

  test("a reason that is not UTF-8 is 1007, a valid multi-byte reason is kept", () => {
    for (const bad of ["hex:ff", "hex:c0 80", "hex:ed a0 80", "hex:e2 82", "hex:61 80 61"]) {
      const payload = concat(closePayload(1000), bytes(bad));
      assert.deepEqual(run(clientFrame(OP.close, payload)), [["error", 1007]], bad);
      const parsed = parseClosePayload(payload);
      assert.equal(parsed.ok, false);
      assert.equal(!parsed.ok && parsed.failure.code, 1007);
    }
    assert.deepEqual(run(clientFrame(OP.close, closePayload(4000, "κόσμε 𝄞"))), [
      ["close", 4000, "κόσμε 𝄞"],
    ]);
  });

  test("a 125-byte close payload is accepted, 126 bytes is a protocol error", () => {
    const reason123 = "r".repeat(123);
    assert.deepEqual(run(clientFrame(OP.close, closePayload(1000, reason123))), [
      ["close", 1000, reason123],
    ]);
    assert.deepEqual(run(clientFrame(OP.close, closePayload(1000, reason123 + "r"))), [
      ["error", 1002],
    ]);
  });

  test("a close frame in the client role (unmasked) is parsed the same way", () => {
    const frame = clientFrame(OP.close, closePayload(1001, "going"), { mask: false });
    assert.deepEqual(run(frame, { expectMasked: false }), [["close", 1001, "going"]]);
    const bad = clientFrame(OP.close, closePayload(1006), { mask: false });
    assert.deepEqual(run(bad, { expectMasked: false }), [["error", 1002]]);
  });

  test("a close frame in the middle of a fragmented message is honoured", () => {
    const stream = concat(
      clientFrame(OP.text, "part", { fin: false }),
      clientFrame(OP.close, closePayload(1000)),
      clientFrame(OP.cont, "rest"),
    );
    assert.deepEqual(run(stream), [["close", 1000, ""]]);
  });

  test("nothing is reported after a close frame, in the same push or later ones", () => {
    const { receiver, events } = record();
    receiver.push(concat(
      clientFrame(OP.close, closePayload(1000)),
      clientFrame(OP.text, "after"),
      clientFrame(OP.ping),
    ));
    receiver.push(clientFrame(OP.text, "later"));
    receiver.push(clientFrame(OP.close, closePayload(1001)));
    receiver.push(Uint8Array.of(0xff, 0xff, 0xff));
    assert.deepEqual(events, [["close", 1000, ""]]);
    assert.equal(receiver.stopped, true);
  });
});

describe("encodeClosePayload", () => {
  test("no code gives an empty payload; a reason without a code is refused", () => {
    assert.equal(encodeClosePayload().length, 0);
    assert.throws(() => encodeClosePayload(undefined, "why"), RangeError);
  });

  for (const code of [...VALID, ...VALID_MORE]) {
    test(`sends ${code}`, () => {
      const payload = encodeClosePayload(code, "ok ✓");
      assert.deepEqual(payload, closePayload(code, "ok ✓"));
      assert.deepEqual(parseClosePayload(payload), { ok: true, code, reason: "ok ✓" });
    });
  }

  for (const code of [...INVALID, 1000.5, NaN, -1000, 70000, Infinity]) {
    test(`refuses to send ${code}`, () => {
      assert.throws(() => encodeClosePayload(code), RangeError);
    });
  }

  test("the reason may be 123 UTF-8 bytes, not 124", () => {
    assert.equal(MAX_CLOSE_REASON_BYTES, 123);
    assert.equal(encodeClosePayload(1000, "a".repeat(123)).length, 125);
    assert.throws(() => encodeClosePayload(1000, "a".repeat(124)), RangeError);
    // Counted in bytes, not characters: 41 × "€" is 123 bytes, 42 is 126.
    assert.equal(encodeClosePayload(1000, "€".repeat(41)).length, 125);
    assert.throws(() => encodeClosePayload(1000, "€".repeat(42)), RangeError);
    // 61 characters of 2 bytes = 122 bytes, plus a 4-byte character = 126.
    assert.throws(() => encodeClosePayload(1000, "é".repeat(61) + "𝄞"), RangeError);
  });
});

/** The table from cause to close code: every cause maps to a code that may be sent. */

import { test } from "node:test";
import assert from "node:assert/strict";
import { closeCauses, closeFor } from "../../src/protocol/close_causes.ts";
import { encodeClosePayload } from "../../src/protocol/close_frame.ts";

test("every cause has a code that may be sent and a reason that fits a close frame", () => {
  const causes = closeCauses();
  assert.ok(causes.length >= 20);
  for (const { cause, code } of causes) {
    const decision = closeFor(cause, 1 << 30, "é".repeat(200));
    assert.equal(decision.code, code);
    assert.equal(decision.cause, cause);
    assert.doesNotThrow(() => encodeClosePayload(decision.code, decision.reason), cause);
  }
});

test("codes by kind: 1002 protocol, 1007 data, 1009 limits, 1011 internal, 1008 policy", () => {
  const codeOf = Object.fromEntries(closeCauses().map(({ cause, code }) => [cause, code]));
  assert.equal(codeOf["reserved-bits"], 1002);
  assert.equal(codeOf["unmasked-client-frame"], 1002);
  assert.equal(codeOf["invalid-close-code"], 1002);
  assert.equal(codeOf["invalid-utf8"], 1007);
  assert.equal(codeOf["invalid-close-reason"], 1007);
  assert.equal(codeOf["invalid-compressed-data"], 1007);
  assert.equal(codeOf["message-too-big"], 1009);
  assert.equal(codeOf["too-many-fragments"], 1009);
  assert.equal(codeOf["handler-error"], 1011);
  assert.equal(codeOf["heartbeat-timeout"], 1011);
  assert.equal(codeOf["send-buffer-limit"], 1008);
  assert.equal(codeOf["idle-timeout"], 1001);
});

test("reasons name their detail; a note is appended and cut on a character boundary", () => {
  assert.equal(closeFor("message-too-big", 1024).reason, "message exceeds 1024 bytes");
  assert.equal(closeFor("reserved-opcode", 3).reason, "reserved opcode 3");
  assert.equal(
    closeFor("invalid-compressed-data", 0, "invalid block type").reason,
    "invalid compressed data: invalid block type",
  );
  const long = closeFor("invalid-compressed-data", 0, "€".repeat(60)).reason;
  const bytes = new TextEncoder().encode(long).length;
  assert.ok(bytes <= 123 && bytes >= 121, `${bytes} bytes`);
  assert.ok(!long.includes("\ufffd"), "no broken character");
});

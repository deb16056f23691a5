/**
 * The closing handshake as the sans-I/O Session decides it: every transition, without sockets.
 * Each step is checked whole (the close frame and the socket's next step), as python-websockets
 * tests its protocol object.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { closeFor } from "../../src/protocol/close_causes.ts";
import { Session, SessionState, type SessionStep } from "../../src/protocol/session.ts";

const encoder = new TextEncoder();

/** A close payload: the code in two bytes, then the reason. */
function payload(code?: number, reason = ""): number[] {
  if (code === undefined) return [];
  return [code >> 8, code & 0xff, ...encoder.encode(reason)];
}

function step(s: SessionStep): { closeFrame: number[] | null; socket: string } {
  return { closeFrame: s.closeFrame === null ? null : [...s.closeFrame], socket: s.socket };
}

describe("Session: this end closes first", () => {
  for (const role of ["server", "client"] as const) {
    test(`${role}: close, then the peer's answer, then the socket`, () => {
      const session = new Session(role);
      assert.equal(session.state, SessionState.Open);
      assert.deepEqual(step(session.close(1000, "bye")), {
        closeFrame: payload(1000, "bye"),
        socket: "await-close-frame",
      });
      assert.equal(session.state, SessionState.Closing);
      assert.equal(session.isOpen, false);
      assert.equal(session.closeSent, true);
      // Closing again does nothing: one close frame per connection.
      assert.deepEqual(step(session.close(1001)), { closeFrame: null, socket: "none" });
      // The answer: no second close frame; then the server closes TCP, the client waits for it
      // (RFC 6455 §7.1.1).
      assert.deepEqual(step(session.receiveClose(1000, "ok")), {
        closeFrame: null,
        socket: role === "server" ? "close-socket" : "await-socket-close",
      });
      assert.deepEqual(session.socketClosed(), { code: 1000, reason: "ok", wasClean: true });
      assert.equal(session.state, SessionState.Closed);
      assert.equal(session.socketClosed(), null, "reported once");
    });
  }

  test("close without a code sends an empty close frame", () => {
    assert.deepEqual(step(new Session("server").close()), {
      closeFrame: [],
      socket: "await-close-frame",
    });
  });

  test("a code or reason that may not be sent throws, even once closing", () => {
    const session = new Session("client");
    for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5]) {
      assert.throws(() => session.close(code), RangeError, String(code));
    }
    assert.throws(() => session.close(undefined, "reason without a code"), RangeError);
    assert.throws(() => session.close(1000, "x".repeat(124)), RangeError);
    assert.equal(session.state, SessionState.Open, "a refused close changes nothing");
    session.close(4000, "x".repeat(123));
    assert.throws(() => session.close(1004), RangeError);
  });

  test("no answer before the socket closes: the peer's code is unknown (1006)", () => {
    const session = new Session("server");
    session.close(1000);
    assert.deepEqual(session.socketClosed(), { code: 1006, reason: "", wasClean: false });
  });
});

describe("Session: the peer closes first", () => {
  for (const role of ["server", "client"] as const) {
    test(`${role}: the answer echoes the code, then ${role === "server" ? "closes TCP" : "waits for the server to"}`, () => {
      const session = new Session(role);
      assert.deepEqual(step(session.receiveClose(4001, "going")), {
        closeFrame: payload(4001),
        socket: role === "server" ? "close-socket" : "await-socket-close",
      });
      assert.equal(session.state, SessionState.Closing);
      assert.equal(session.closeSent, true);
      assert.deepEqual(step(session.close(1000)), { closeFrame: null, socket: "none" });
      assert.deepEqual(session.socketClosed(), { code: 4001, reason: "going", wasClean: true });
    });
  }

  test("an empty close frame is answered with an empty one and reported as 1005", () => {
    const session = new Session("server");
    assert.deepEqual(step(session.receiveClose(1005, "")), {
      closeFrame: [],
      socket: "close-socket",
    });
    assert.deepEqual(session.socketClosed(), { code: 1005, reason: "", wasClean: true });
  });

  test("after the socket closed, a late close frame changes nothing", () => {
    const session = new Session("server");
    session.socketClosed();
    assert.deepEqual(step(session.receiveClose(1000, "")), { closeFrame: null, socket: "none" });
    assert.deepEqual(session.closeInfo, { code: 1006, reason: "", wasClean: false });
  });
});

describe("Session: failing", () => {
  test("fail sends the decision's close frame and closes the socket; reported unclean", () => {
    const session = new Session("server");
    const decision = closeFor("invalid-utf8");
    assert.deepEqual(step(session.fail(decision)), {
      closeFrame: payload(1007, "text message is not valid UTF-8"),
      socket: "close-socket",
    });
    assert.equal(session.failure, decision);
    // The peer's answer does not hide the failure.
    session.receiveClose(1007, "");
    assert.deepEqual(session.socketClosed(), {
      code: 1007,
      reason: "text message is not valid UTF-8",
      wasClean: false,
    });
  });

  test("the first failure is the one reported; no second close frame", () => {
    const session = new Session("client");
    session.fail(closeFor("frame-too-big", 10));
    assert.deepEqual(step(session.fail(closeFor("handler-error"))), {
      closeFrame: null,
      socket: "close-socket",
    });
    assert.deepEqual(session.closeInfo, {
      code: 1009,
      reason: "frame exceeds 10 bytes",
      wasClean: false,
    });
  });

  test("failing after this end's close frame sends no other, but closes the socket", () => {
    const session = new Session("server");
    session.close(1000);
    assert.deepEqual(step(session.fail(closeFor("handler-error"))), {
      closeFrame: null,
      socket: "close-socket",
    });
    assert.equal(session.socketClosed()?.code, 1011);
  });

  test("abandon drops the socket without a close frame, with the decision's code", () => {
    const session = new Session("server");
    assert.deepEqual(step(session.abandon(closeFor("heartbeat-timeout"))), {
      closeFrame: null,
      socket: "drop-socket",
    });
    assert.equal(session.closeSent, false);
    assert.deepEqual(session.socketClosed(), {
      code: 1011,
      reason: "heartbeat timeout",
      wasClean: false,
    });
  });

  test("once closed, failing and abandoning do nothing", () => {
    const session = new Session("client");
    session.socketClosed();
    assert.deepEqual(step(session.fail(closeFor("handler-error"))), {
      closeFrame: null,
      socket: "none",
    });
    assert.deepEqual(step(session.abandon(closeFor("heartbeat-timeout"))), {
      closeFrame: null,
      socket: "none",
    });
    assert.equal(session.closeInfo.code, 1006);
  });
});

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseRequestHead, type RequestHead } from "../../src/handshake/http_head.ts";
import {
  acceptResponse,
  isWebSocketUpgrade,
  selectSubprotocol,
  validateUpgradeRequest,
} from "../../src/handshake/server_handshake.ts";
import { errorResponse } from "../../src/handshake/http_response.ts";
import { seeded } from "../helpers/random.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

const BASE: Record<string, string> = {
  Host: "example.com",
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Key": KEY,
  "Sec-WebSocket-Version": "13",
};

/** A request head from a request line and header changes (null drops a header). */
function head(
  changes: Record<string, string | null> = {},
  requestLine = "GET /chat HTTP/1.1",
  extraLines: string[] = [],
): RequestHead {
  const fields = { ...BASE, ...changes };
  let text = requestLine + "\r\n";
  for (const [name, value] of Object.entries(fields)) {
    if (value !== null) text += `${name}: ${value}\r\n`;
  }
  for (const line of extraLines) text += line + "\r\n";
  text += "\r\n";
  const parsed = parseRequestHead(new TextEncoder().encode(text), 100);
  if ("status" in parsed) throw new Error(`test head did not parse: ${parsed.message}`);
  return parsed;
}

function statusOf(h: RequestHead): number | null {
  const result = validateUpgradeRequest(h);
  return "status" in result ? result.status : null;
}

function decodeHead(bytes: Uint8Array): { statusLine: string; headers: Map<string, string> } {
  const text = new TextDecoder().decode(bytes);
  const end = text.indexOf("\r\n\r\n");
  assert.ok(end !== -1, "a head ends with a blank line");
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    assert.ok(!headers.has(name), `header ${name} appears once`);
    headers.set(name, line.slice(colon + 1).trim());
  }
  return { statusLine, headers };
}

describe("validateUpgradeRequest", () => {
  test("a valid request gives the key and offered protocols", () => {
    assert.deepEqual(validateUpgradeRequest(head()), { key: KEY, protocols: [] });
    assert.deepEqual(
      validateUpgradeRequest(
        head({}, "GET /chat HTTP/1.1", [
          "Sec-WebSocket-Protocol: chat, superchat",
          "Sec-WebSocket-Protocol: v2.json",
        ]),
      ),
      { key: KEY, protocols: ["chat", "superchat", "v2.json"] },
    );
  });

  test("Connection and Upgrade token lists are case-insensitive", () => {
    for (const connection of ["keep-alive, Upgrade", "UPGRADE", "upgrade", "Upgrade,keep-alive"]) {
      assert.equal(statusOf(head({ Connection: connection })), null, connection);
    }
    for (const upgrade of ["websocket", "WebSocket", "WEBSOCKET", "h2c, websocket"]) {
      const h = head({ Upgrade: upgrade });
      assert.equal(isWebSocketUpgrade(h), true, upgrade);
      assert.equal(statusOf(h), null);
    }
  });

  test("isWebSocketUpgrade is false without a websocket token", () => {
    for (const upgrade of [null, "", "h2c", "websockets", "web socket", "websocket/13"]) {
      assert.equal(isWebSocketUpgrade(head({ Upgrade: upgrade })), false, String(upgrade));
    }
  });

  test("a method other than GET is 400", () => {
    for (const method of ["POST", "HEAD", "get", "PUT"]) {
      assert.equal(statusOf(head({}, `${method} /chat HTTP/1.1`)), 400, method);
    }
  });

  test("HTTP/1.0 is 400", () => {
    assert.equal(statusOf(head({}, "GET /chat HTTP/1.0")), 400);
  });

  test("a missing, empty or repeated Host is 400", () => {
    assert.equal(statusOf(head({ Host: null })), 400);
    assert.equal(statusOf(head({ Host: "" })), 400);
    assert.equal(statusOf(head({}, "GET /chat HTTP/1.1", ["Host: other.example"])), 400);
  });

  test("a Connection header without the upgrade token is 400", () => {
    for (const connection of [null, "", "keep-alive", "close", "upgrades", "x-upgrade, close"]) {
      assert.equal(statusOf(head({ Connection: connection })), 400, String(connection));
    }
  });

  test("a version other than 13 is 426 naming version 13", () => {
    for (const version of [null, "", "8", "12", "14", "13, 8", "013", "13.0"]) {
      const result = validateUpgradeRequest(head({ "Sec-WebSocket-Version": version }));
      assert.ok("status" in result, String(version));
      assert.equal(result.status, 426, String(version));
      assert.deepEqual(result.headers, { "sec-websocket-version": "13" });
      // The error response carries the header.
      const { statusLine, headers } = decodeHead(errorResponse(result));
      assert.equal(statusLine, "HTTP/1.1 426 Upgrade Required");
      assert.equal(headers.get("sec-websocket-version"), "13");
    }
  });

  test("a missing, malformed or repeated Sec-WebSocket-Key is 400", () => {
    for (
      const key of [
        null,
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZR==",
        "not a key at all",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      ]
    ) {
      assert.equal(statusOf(head({ "Sec-WebSocket-Key": key })), 400, String(key));
    }
    const twice = head({}, "GET /chat HTTP/1.1", [`Sec-WebSocket-Key: ${KEY}`]);
    assert.equal(statusOf(twice), 400);
  });

  test("subprotocols that are not tokens are 400", () => {
    for (const protocols of ["chat, a b", "chat;v=1", '"chat"', "chat/1", "a=b"]) {
      assert.equal(statusOf(head({ "Sec-WebSocket-Protocol": protocols })), 400, protocols);
    }
    const ok = validateUpgradeRequest(head({ "Sec-WebSocket-Protocol": " chat ,, superchat " }));
    assert.deepEqual(ok, { key: KEY, protocols: ["chat", "superchat"] });
  });
});

describe("selectSubprotocol", () => {
  test("picks the client's first offer that the server supports", () => {
    assert.equal(selectSubprotocol(["a", "b"], ["b", "a"]), "a");
    assert.equal(selectSubprotocol(["x", "b", "a"], ["a", "b"]), "b");
    assert.equal(selectSubprotocol(["x"], ["a", "b"]), null);
    assert.equal(selectSubprotocol([], ["a"]), null);
    assert.equal(selectSubprotocol(["a"], []), null);
  });

  test("is case-sensitive, so it never answers with a spelling the client did not send", () => {
    assert.equal(selectSubprotocol(["Chat"], ["chat"]), null);
    assert.equal(selectSubprotocol(["chat"], ["Chat", "chat"]), "chat");
  });

  test("never returns an unoffered protocol (random offers)", () => {
    const pool = ["chat", "superchat", "v1", "v2", "mqtt", "graphql-ws", "Chat", "wamp"];
    const next = seeded(42);
    const pick = () => pool.filter(() => next() < 0.4);
    for (let i = 0; i < 500; i++) {
      const offered = pick();
      const supported = pick();
      const chosen = selectSubprotocol(offered, supported);
      const expected = offered.find((p) => supported.includes(p)) ?? null;
      assert.equal(chosen, expected);
      if (chosen !== null) {
        assert.ok(offered.includes(chosen) && supported.includes(chosen));
      }
    }
  });
});

describe("acceptResponse", () => {
  test("a 101 with the accept key and no protocol", async () => {
    const { statusLine, headers } = decodeHead(await acceptResponse(KEY, "", "", null));
    assert.equal(statusLine, "HTTP/1.1 101 Switching Protocols");
    assert.equal(headers.get("upgrade"), "websocket");
    assert.equal(headers.get("connection")?.toLowerCase(), "upgrade");
    assert.equal(headers.get("sec-websocket-accept"), ACCEPT);
    assert.equal(headers.has("sec-websocket-protocol"), false);
  });

  test("the chosen protocol, extra headers kept, reserved ones ours", async () => {
    const extra = new Headers([
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
      ["x-extra", "yes"],
      ["sec-websocket-accept", "forged"],
      ["sec-websocket-protocol", "forged"],
      ["sec-websocket-extensions", "forged"],
    ]);
    const bytes = await acceptResponse(KEY, "chat", "permessage-deflate", extra);
    const text = new TextDecoder().decode(bytes);
    assert.ok(text.endsWith("\r\n\r\n"));
    assert.ok(text.includes("set-cookie: a=1\r\n") && text.includes("set-cookie: b=2\r\n"));
    const lines = text.split("\r\n");
    const value = (name: string) =>
      lines.filter((l) => l.toLowerCase().startsWith(name + ":")).map((l) =>
        l.slice(name.length + 1).trim()
      );
    assert.deepEqual(value("sec-websocket-accept"), [ACCEPT]);
    assert.deepEqual(value("sec-websocket-protocol"), ["chat"]);
    assert.deepEqual(value("sec-websocket-extensions"), ["permessage-deflate"]);
    assert.deepEqual(value("x-extra"), ["yes"]);

    const none = new TextDecoder().decode(await acceptResponse(KEY, "", "", extra));
    assert.ok(!none.toLowerCase().includes("sec-websocket-protocol"));
    assert.ok(!none.toLowerCase().includes("sec-websocket-extensions"));
  });
});

describe("errorResponse", () => {
  test("a plain-text error with its length, closing the connection", () => {
    const bytes = errorResponse({ status: 400, message: "Bad key" });
    const text = new TextDecoder().decode(bytes);
    const end = text.indexOf("\r\n\r\n");
    const { statusLine, headers } = decodeHead(bytes);
    assert.equal(statusLine, "HTTP/1.1 400 Bad Request");
    assert.equal(text.slice(end + 4), "Bad key\n");
    assert.equal(headers.get("content-length"), String(bytes.length - end - 4));
    assert.equal(headers.get("connection"), "close");
  });
});

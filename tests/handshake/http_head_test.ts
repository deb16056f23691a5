import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  findHeadEnd,
  type HttpError,
  isPlausibleRequestStart,
  isToken,
  listHasToken,
  parseList,
  parseRequestHead,
  type RequestHead,
} from "../../src/handshake/http_head.ts";
import { concat } from "../helpers/bytes.ts";

/** Bytes of a string, one byte per char (latin1), so tests can send any byte. */
export function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => {
    const code = c.charCodeAt(0);
    if (code > 255) throw new Error("latin1 only");
    return code;
  });
}

function parse(s: string, maxHeaders = 100): RequestHead | HttpError {
  return parseRequestHead(latin1(s), maxHeaders);
}

function parseOk(s: string, maxHeaders = 100): RequestHead {
  const head = parse(s, maxHeaders);
  if ("status" in head) throw new Error(`expected a head, got ${head.status} ${head.message}`);
  return head;
}

function status(s: string, maxHeaders = 100): number | null {
  const head = parse(s, maxHeaders);
  return "status" in head ? head.status : null;
}

const HEAD = "GET /chat?room=1 HTTP/1.1\r\n" +
  "Host: example.com:8080\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n" +
  "\r\n";

describe("parseRequestHead", () => {
  test("a valid upgrade request", () => {
    const head = parseOk(HEAD);
    assert.equal(head.method, "GET");
    assert.equal(head.target, "/chat?room=1");
    assert.equal(head.version, "HTTP/1.1");
    assert.equal(head.headers.get("host"), "example.com:8080");
    assert.equal(head.headers.get("UPGRADE"), "websocket");
    assert.equal(head.headers.get("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
    assert.equal([...head.headers.toHeaders().keys()].length, 5);
  });

  test("absolute-form target and HTTP/1.0", () => {
    const head = parseOk("GET ws://example.com/chat?x=1 HTTP/1.0\r\nHost: example.com\r\n\r\n");
    assert.equal(head.target, "ws://example.com/chat?x=1");
    assert.equal(head.version, "HTTP/1.0");
  });

  test("a head with no header fields", () => {
    const head = parseOk("OPTIONS * HTTP/1.1\r\n\r\n");
    assert.equal(head.method, "OPTIONS");
    assert.equal(head.target, "*");
    assert.equal([...head.headers.toHeaders()].length, 0);
  });

  test("repeated header fields are joined with a comma", () => {
    const head = parseOk(
      "GET / HTTP/1.1\r\nSec-WebSocket-Protocol: chat\r\nX-A: 1\r\n" +
        "sec-websocket-protocol: superchat, v2\r\nX-A: 2\r\n\r\n",
    );
    assert.equal(head.headers.get("sec-websocket-protocol"), "chat, superchat, v2");
    assert.equal(head.headers.get("x-a"), "1, 2");
  });

  test("optional whitespace around values is trimmed; inner whitespace is kept", () => {
    const head = parseOk("GET / HTTP/1.1\r\nX-A:  \t a  b \t \r\nX-Empty:\r\nX-B:c\r\n\r\n");
    assert.equal(head.headers.get("x-a"), "a  b");
    assert.equal(head.headers.get("x-empty"), "");
    assert.equal(head.headers.get("x-b"), "c");
  });

  test("obs-text in a value is kept as latin1", () => {
    const head = parseOk("GET / HTTP/1.1\r\nX-Name: caf\u00e9\r\n\r\n");
    assert.equal(head.headers.get("x-name"), "caf\u00e9");
  });

  test("obs-fold (a continuation line) is 400", () => {
    assert.equal(status("GET / HTTP/1.1\r\nX-A: 1\r\n  more\r\nHost: h\r\n\r\n"), 400);
    assert.equal(status("GET / HTTP/1.1\r\nX-A: 1\r\n\tmore\r\n\r\n"), 400);
    assert.equal(status("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400);
  });

  test("whitespace between a field name and the colon is 400", () => {
    assert.equal(status("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400);
    assert.equal(status("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n"), 400);
  });

  test("malformed field lines are 400", () => {
    for (
      const line of [
        ": no-name",
        "no-colon",
        "Bad Name: x",
        "Bad(name): x",
        "X-A: a\u0000b",
        "X-A: a\u0007b",
        "X-A: a\u007fb",
        "X\u00e9: x",
      ]
    ) {
      assert.equal(status(`GET / HTTP/1.1\r\n${line}\r\n\r\n`), 400, JSON.stringify(line));
    }
  });

  test("a bare LF or bare CR anywhere is 400", () => {
    assert.equal(status("GET / HTTP/1.1\nHost: h\r\n\r\n"), 400);
    assert.equal(status("GET / HTTP/1.1\r\nHost: h\n\r\n"), 400);
    assert.equal(status("GET / HTTP/1.1\r\nHost: h\nX-A: 1\r\n\r\n"), 400);
    assert.equal(status("GET / HTTP/1.1\r\nHost: h\rX-A: 1\r\n\r\n"), 400);
    assert.equal(status("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n"), 400);
  });

  test("malformed request lines are 400, other HTTP versions 505", () => {
    for (
      const line of [
        "",
        "GET",
        "GET /",
        "GET  / HTTP/1.1",
        "GET / extra HTTP/1.1",
        " GET / HTTP/1.1",
        "G@T / HTTP/1.1",
        "GET / http/1.1",
        "GET / FOO",
      ]
    ) {
      assert.equal(status(`${line}\r\nHost: h\r\n\r\n`), 400, JSON.stringify(line));
    }
    assert.equal(status("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
    assert.equal(status("GET / HTTP/0.9\r\nHost: h\r\n\r\n"), 505);
  });

  test("control characters and non-ASCII bytes in the request target are 400", () => {
    for (const target of ["/a\u0000b", "/a\tb", "/a\u0001", "/\u007f", "/caf\u00e9", "/\u00ff"]) {
      assert.equal(
        status(`GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`),
        400,
        JSON.stringify(target),
      );
    }
  });

  test("more header fields than allowed is 431; exactly the limit passes", () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: ${i}\r\n`).join("");
    assert.equal(status(`GET / HTTP/1.1\r\n${fields(4)}\r\n`, 3), 431);
    assert.equal(status(`GET / HTTP/1.1\r\n${fields(3)}\r\n`, 3), null);
    assert.equal(status(`GET / HTTP/1.1\r\n${fields(101)}\r\n`), 431);
    assert.equal(parseOk(`GET / HTTP/1.1\r\n${fields(100)}\r\n`).headers.get("x-99"), "99");
  });
});

describe("findHeadEnd", () => {
  const bytes = latin1(HEAD + "\x81\x85body");
  const end = HEAD.length;

  test("finds the end of the head in one buffer", () => {
    assert.equal(findHeadEnd(bytes, 0), end);
    assert.equal(findHeadEnd(latin1("\r\n\r\n"), 0), 4);
    assert.equal(findHeadEnd(latin1("GET / HTTP/1.1\r\n\r"), 0), -1);
    assert.equal(findHeadEnd(latin1("a\n\n\r\n\rb"), 0), -1);
    assert.equal(findHeadEnd(latin1("a\r\n\r\r\n\r\n"), 0), 8);
    assert.equal(findHeadEnd(new Uint8Array(0), 0), -1);
  });

  test("found at the same place however the bytes arrive, as the server searches", () => {
    // As the server does: accumulate, and search from where the last search stopped, minus 3.
    const search = (cuts: number[]): number => {
      let buffer = new Uint8Array(0);
      let at = 0;
      for (const cut of [...cuts, bytes.length]) {
        const from = buffer.length - 3;
        buffer = concat(buffer, bytes.subarray(at, cut));
        at = cut;
        const found = findHeadEnd(buffer, from);
        if (found !== -1) {
          assert.ok(cut >= end, "not found before the blank line has arrived");
          return found;
        }
        assert.ok(cut < end, `missed at cut ${cut}`);
      }
      return -1;
    };
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.equal(search([cut]), end, `split at ${cut}`);
    }
    for (let a = end - 6; a <= end; a++) {
      for (let b = a; b <= end + 2; b++) assert.equal(search([a, b]), end, `cuts ${a}, ${b}`);
    }
    assert.equal(search(Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)), end);
  });

  test("a negative start is clamped", () => {
    assert.equal(findHeadEnd(latin1("\r\n\r\n"), -3), 4);
  });
});

describe("isPlausibleRequestStart", () => {
  test("accepts the beginnings of a request line", () => {
    for (const s of ["", "G", "GET / HT", "GET / HTTP/1.1", "GET / HTTP/1.1\r", HEAD]) {
      assert.equal(isPlausibleRequestStart(latin1(s)), true, JSON.stringify(s));
    }
  });

  test("refuses binary noise and malformed line ends before the first line ends", () => {
    for (
      const s of [
        "\x16\x03\x01\x02\x00",
        "GET /\x00",
        "GET /\u00e9",
        "GET /\tx",
        "GET /\rx",
        "GET\n",
      ]
    ) {
      assert.equal(isPlausibleRequestStart(latin1(s)), false, JSON.stringify(s));
    }
  });
});

describe("token lists", () => {
  test("isToken", () => {
    for (const t of ["websocket", "chat.v2", "a!#$%&'*+-.^_`|~9", "X"]) {
      assert.equal(isToken(t), true, t);
    }
    for (const t of ["", "a b", "a,b", "a;b", "a/b", '"a"', "é", "a\u0000", "(a)", "a=b"]) {
      assert.equal(isToken(t), false, JSON.stringify(t));
    }
  });

  test("parseList trims and drops empty items", () => {
    assert.deepEqual(parseList(null), []);
    assert.deepEqual(parseList(""), []);
    assert.deepEqual(parseList(" , ,\t"), []);
    assert.deepEqual(parseList("keep-alive, Upgrade"), ["keep-alive", "Upgrade"]);
    assert.deepEqual(parseList("a,b ,\tc\t,,d"), ["a", "b", "c", "d"]);
  });

  test("listHasToken compares whole items case-insensitively", () => {
    assert.equal(listHasToken("keep-alive, Upgrade", "upgrade"), true);
    assert.equal(listHasToken("UPGRADE", "upgrade"), true);
    assert.equal(listHasToken("upgrade,keep-alive", "upgrade"), true);
    assert.equal(listHasToken("keep-alive", "upgrade"), false);
    assert.equal(listHasToken("upgrades, x-upgrade", "upgrade"), false);
    assert.equal(listHasToken(null, "upgrade"), false);
  });
});

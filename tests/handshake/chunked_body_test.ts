/** The chunked body decoder the client uses for a refusal's body (RFC 9112 §7.1). */

import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeChunks } from "../../src/handshake/chunked_body.ts";

const encoder = new TextEncoder();
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function decoded(text: string) {
  const { data, length, complete } = decodeChunks(encoder.encode(text));
  return { text: decode(data), length, complete };
}

test("hexadecimal sizes, extensions ignored, the last chunk ends it", () => {
  const body = "x".repeat(26);
  assert.deepEqual(decoded(`1a\r\n${body}\r\nA;name=value\r\n0123456789\r\n0\r\n\r\n`), {
    text: body + "0123456789",
    length: 36,
    complete: true,
  });
});

test("what has arrived so far: whole chunks only, not complete yet", () => {
  assert.deepEqual(decoded("5\r\nhello\r\n6\r\n wor"), {
    text: "hello",
    length: 5,
    complete: false,
  });
  assert.deepEqual(decoded("5\r\nhel"), { text: "", length: 0, complete: false });
  assert.deepEqual(decoded("5"), { text: "", length: 0, complete: false });
});

test("a malformed size line ends the body with what came before it", () => {
  assert.deepEqual(decoded("3\r\nabc\r\nzz\r\nmore\r\n"), {
    text: "abc",
    length: 3,
    complete: true,
  });
  assert.deepEqual(decoded("123456789\r\n"), { text: "", length: 0, complete: true });
});

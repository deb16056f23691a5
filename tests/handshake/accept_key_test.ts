import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  computeAcceptKey,
  generateClientKey,
  isValidClientKey,
  toBase64,
  WEBSOCKET_GUID,
} from "../../src/handshake/accept_key.ts";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

describe("computeAcceptKey", () => {
  test("RFC 6455 §1.3 sample", async () => {
    assert.equal(WEBSOCKET_GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    assert.equal(
      await computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="),
      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    );
  });

  test("a second known pair", async () => {
    assert.equal(
      await computeAcceptKey("60jj9YDlrvPB+DzLmVJzcg=="),
      "Cx7gYudkmGmF8rMFP1W1HbLkWRA=",
    );
  });

  test("agrees with node:crypto SHA-1 for generated keys", async () => {
    for (let i = 0; i < 20; i++) {
      const key = generateClientKey();
      const expected = createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
      assert.equal(await computeAcceptKey(key), expected);
    }
  });
});

describe("isValidClientKey", () => {
  test("accepts well-formed keys", () => {
    for (
      const key of [
        "dGhlIHNhbXBsZSBub25jZQ==",
        "60jj9YDlrvPB+DzLmVJzcg==",
        "AAAAAAAAAAAAAAAAAAAAAA==",
        "/////////////////////w==",
        "+++++++++++++++++++++Q==",
      ]
    ) {
      assert.equal(isValidClientKey(key), true, key);
    }
  });

  test("refuses malformed keys", () => {
    for (
      const key of [
        "",
        "dGhlIHNhbXBsZSBub25jZQ=", // 23 characters
        "dGhlIHNhbXBsZSBub25jZQ===", // 25 characters
        "dGhlIHNhbXBsZSBub25jZQ", // no padding
        "dGhlIHNhbXBsZSBub25jZQAA", // 24 characters, no padding (18 bytes)
        "dGhlIHNhbXBsZSBub25jZ===", // 21 data characters
        "dGhlIHNhbXBsZSBub25jZR==", // non-zero padding bits
        "AAAAAAAAAAAAAAAAAAAAAB==",
        "AAAAAAAAAAAAAAAAAAAAA/==",
        "dGhlIHNhbXBsZSBub25jZQ-=",
        "dGhl-HNhbXBsZSBub25jZQ==", // base64url alphabet
        "dGhl_HNhbXBsZSBub25jZQ==",
        "dGhl HNhbXBsZSBub25jZQ==", // space inside
        " dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZQ==\u0000",
        "dGhlIHNhbXBsZSBub25jZé==",
        "====================AA==",
      ]
    ) {
      assert.equal(isValidClientKey(key), false, JSON.stringify(key));
    }
  });

  test("the 22nd character is valid exactly when the key is canonical base64 of 16 bytes", () => {
    for (const last of B64) {
      const key = "dGhlIHNhbXBsZSBub25jZ" + last + "==";
      const decoded = atob(key);
      const canonical = decoded.length === 16 &&
        btoa(decoded) === key;
      assert.equal(isValidClientKey(key), canonical, key);
    }
  });

  test("generateClientKey makes valid, distinct keys of 16 bytes", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const key = generateClientKey();
      assert.equal(isValidClientKey(key), true, key);
      assert.equal(atob(key).length, 16);
      seen.add(key);
    }
    assert.equal(seen.size, 100);
  });

  test("toBase64 matches btoa over binary strings", () => {
    const data = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const length of [0, 1, 2, 3, 16, 20, 256]) {
      const slice = data.subarray(256 - length);
      assert.equal(toBase64(slice), btoa(String.fromCharCode(...slice)));
    }
  });
});

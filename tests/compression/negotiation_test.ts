/**
 * permessage-deflate negotiation (RFC 7692 §7.1) as pure functions: the extension header parser,
 * the server's choice among offers, the client's offer and its check of the server's answer.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  checkServerResponse,
  clientOffer,
  negotiateServer,
  parseExtensions,
  resolveDeflateOptions,
} from "../../src/handshake/permessage_deflate.ts";

const ON = resolveDeflateOptions(true)!;

function answer(header: string | null, options = ON): string | null {
  return negotiateServer(header, options)?.response ?? null;
}

describe("parseExtensions", () => {
  test("offers, parameters, token and quoted values, empty elements", () => {
    assert.deepEqual(
      parseExtensions(
        'permessage-deflate; client_max_window_bits; server_max_window_bits="10", , x-foo ;a=b',
      ),
      [
        {
          name: "permessage-deflate",
          params: [["client_max_window_bits", true], ["server_max_window_bits", "10"]],
        },
        { name: "x-foo", params: [["a", "b"]] },
      ],
    );
    assert.deepEqual(parseExtensions(null), []);
    assert.deepEqual(parseExtensions(" , ,"), []);
    assert.deepEqual(parseExtensions('a;b="c\\d"'), [{ name: "a", params: [["b", "cd"]] }]);
  });

  test("malformed values are null", () => {
    for (
      const bad of [
        "permessage-deflate;",
        "permessage-deflate; =1",
        "permessage-deflate; a=",
        'permessage-deflate; a="unterminated',
        'permessage-deflate; a="not a token"',
        "permessage-deflate a",
        "per/message",
        ";x",
        'a; b="c\\',
        "a" + ";b".repeat(3000),
      ]
    ) {
      assert.equal(parseExtensions(bad), null, bad);
    }
  });

  test("a long hostile header is parsed in linear time", () => {
    const hostile = "a;" + "b=c;".repeat(1000) + "=";
    const started = performance.now();
    for (let i = 0; i < 100; i++) parseExtensions(hostile);
    assert.ok(performance.now() - started < 1000);
  });
});

describe("negotiateServer", () => {
  test("the browser's offer is accepted with context takeover", () => {
    assert.equal(answer("permessage-deflate; client_max_window_bits"), "permessage-deflate");
    const n = negotiateServer("permessage-deflate; client_max_window_bits", ON)!;
    assert.equal(n.agreement.sendNoContextTakeover, false);
    assert.equal(n.agreement.receiveNoContextTakeover, false);
    assert.equal(n.agreement.sendWindowBits, 15);
  });

  test("off, absent or foreign offers: no compression", () => {
    assert.equal(answer("permessage-deflate", null as never), null);
    assert.equal(negotiateServer("permessage-deflate", null), null);
    assert.equal(answer(null), null);
    assert.equal(answer("x-webkit-deflate-frame"), null);
    assert.equal(answer("permessage-deflate;;"), null); // malformed: go uncompressed
  });

  test("each parameter at most once, with a valid value, else the offer is declined", () => {
    const declined = [
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; client_no_context_takeover=1",
      "permessage-deflate; server_no_context_takeover=x",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=010",
      "permessage-deflate; server_max_window_bits=1a",
      "permessage-deflate; client_max_window_bits=7",
      "permessage-deflate; client_max_window_bits=16",
      "permessage-deflate; client_max_window_bits; client_max_window_bits",
      "permessage-deflate; unknown_param",
      // zlib cannot compress with a 256-byte window: declined rather than violated.
      "permessage-deflate; server_max_window_bits=8",
    ];
    for (const offer of declined) assert.equal(answer(offer), null, offer);
  });

  test("accepted parameters are answered", () => {
    assert.equal(
      answer("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
    assert.equal(
      answer('permessage-deflate; server_max_window_bits="10"'),
      "permessage-deflate; server_max_window_bits=10",
    );
    assert.equal(
      answer("permessage-deflate; client_max_window_bits=8"),
      "permessage-deflate; client_max_window_bits=8",
    );
    const n = negotiateServer("permessage-deflate; client_max_window_bits=8", ON)!;
    assert.equal(n.agreement.receiveWindowBits, 8);
    assert.equal(
      answer("PerMessage-Deflate; Server_Max_Window_Bits=9"),
      "permessage-deflate; server_max_window_bits=9",
    );
  });

  test("server options: no context takeover and smaller windows", () => {
    const options = resolveDeflateOptions({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 11,
    })!;
    assert.equal(
      answer("permessage-deflate; client_max_window_bits", options),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
        "server_max_window_bits=10; client_max_window_bits=11",
    );
    // Without client_max_window_bits in the offer it must not be in the answer.
    assert.equal(
      answer("permessage-deflate", options),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
        "server_max_window_bits=10",
    );
    assert.equal(
      answer("permessage-deflate; server_max_window_bits=12", options),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
        "server_max_window_bits=10",
    );
  });

  test("multiple offers: the first acceptable one, in order", () => {
    assert.equal(
      answer(
        "permessage-deflate; server_max_window_bits=8, permessage-deflate; bogus, " +
          "permessage-deflate; server_max_window_bits=12, permessage-deflate",
      ),
      "permessage-deflate; server_max_window_bits=12",
    );
    assert.equal(answer("x-other, permessage-deflate"), "permessage-deflate");
  });

  test("invalid options throw", () => {
    assert.throws(() => resolveDeflateOptions({ serverMaxWindowBits: 8 }), RangeError);
    assert.throws(() => resolveDeflateOptions({ level: 10 }), RangeError);
    assert.throws(() => resolveDeflateOptions({ threshold: -1 }), RangeError);
    assert.equal(resolveDeflateOptions(false), null);
    assert.equal(resolveDeflateOptions(undefined), null);
  });
});

describe("client side", () => {
  test("the offer", () => {
    assert.equal(clientOffer(ON), "permessage-deflate; client_max_window_bits");
    assert.equal(
      clientOffer(
        resolveDeflateOptions({
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 12,
        })!,
      ),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
        "server_max_window_bits=10; client_max_window_bits=12",
    );
  });

  test("acceptable answers", () => {
    assert.deepEqual(checkServerResponse(null, ON), { ok: true, agreement: null });
    assert.deepEqual(checkServerResponse("", null), { ok: true, agreement: null });
    const plain = checkServerResponse("permessage-deflate", ON);
    assert.ok(plain.ok && plain.agreement !== null);
    const full = checkServerResponse(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
        "server_max_window_bits=10; client_max_window_bits=9",
      ON,
    );
    assert.ok(full.ok && full.agreement !== null);
    assert.equal(full.agreement.sendNoContextTakeover, true);
    assert.equal(full.agreement.receiveNoContextTakeover, true);
    assert.equal(full.agreement.sendWindowBits, 9);
    assert.equal(full.agreement.receiveWindowBits, 10);
  });

  test("answers that were not offered fail the handshake", () => {
    const bad = [
      "x-foo",
      "permessage-deflate, permessage-deflate",
      "permessage-deflate; client_max_window_bits", // a value is required in an answer
      "permessage-deflate; client_max_window_bits=8", // zlib cannot honour it
      "permessage-deflate; unknown",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate;",
    ];
    for (const header of bad) assert.equal(checkServerResponse(header, ON).ok, false, header);
    assert.equal(checkServerResponse("permessage-deflate", null).ok, false);
    const limited = resolveDeflateOptions({ clientMaxWindowBits: 10, serverMaxWindowBits: 11 })!;
    assert.equal(
      checkServerResponse(
        "permessage-deflate; client_max_window_bits=12; server_max_window_bits=11",
        limited,
      ).ok,
      false,
    );
    assert.equal(
      checkServerResponse("permessage-deflate; server_max_window_bits=12", limited).ok,
      false,
    );
    assert.equal(checkServerResponse("permessage-deflate", limited).ok, false);
    assert.equal(
      checkServerResponse("permessage-deflate; server_max_window_bits=9", limited).ok,
      true,
    );
  });
});

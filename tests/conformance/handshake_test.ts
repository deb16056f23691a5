/**
 * The opening handshake (RFC 6455 §4.1, §4.2): the 101 and its accept key, requests that arrive
 * in pieces or together with the first frame, what is refused and with which status,
 * subprotocol negotiation, and the `upgrade` and `fetch` hooks.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { UpgradeInfo, WebSocketServer } from "../../mod.ts";
import { concat } from "../helpers/bytes.ts";
import { RawClient, SAMPLE_ACCEPT, SAMPLE_KEY, upgradeRequest } from "../helpers/raw_client.ts";
import { startServer } from "../helpers/servers.ts";
import { clientFrame, OP, text } from "../helpers/wire.ts";

const enc = new TextEncoder();

/** Sends `request` on a new connection and reads the whole response (the server then closes). */
async function exchange(port: number, request: string) {
  const client = await RawClient.connect(port);
  client.write(request);
  const response = await client.readResponseHead();
  if (response.status !== 101) await client.waitForEnd();
  return { client, response };
}

/** Sends `request` and expects a refusal with `status`, after which the server closes TCP. */
async function expectRefusal(port: number, request: string, status: number) {
  const client = await RawClient.connect(port);
  client.write(request);
  const response = await client.readResponse();
  assert.equal(response.status, status, `request:\n${request}`);
  assert.equal(client.ended, true);
  assert.ok(!response.headers.has("sec-websocket-accept"));
  return response;
}

/** Checks that an open client gets its text echoed. */
async function expectEcho(client: RawClient, message: string): Promise<void> {
  client.write(clientFrame(OP.text, message));
  const frame = await client.nextFrame();
  assert.equal(frame.opcode, OP.text);
  assert.equal(text(frame.payload), message);
}

interface Seen {
  request: Request;
  info: UpgradeInfo;
}

type Data = { tag: string; protocolSeen?: boolean } | undefined;

describe("handshake", () => {
  let server: WebSocketServer<Data>;
  const seen: Seen[] = [];
  before(() => {
    server = startServer<Data>({
      protocols: ["superchat", "chat"],
      upgrade(request, info) {
        const url = new URL(request.url);
        switch (url.pathname) {
          case "/wrong-protocol":
            return { protocol: "x" };
          case "/throws":
            throw new Error("deliberate failure in the upgrade hook");
          case "/origin":
            // An async hook that checks Origin.
            return Promise.resolve().then(() =>
              request.headers.get("origin") === "https://good.example"
                ? { data: { tag: "origin ok" } }
                : new Response("forbidden origin", {
                  status: 403,
                  headers: { "x-reason": "origin" },
                })
            );
          case "/inspect":
            seen.push({ request, info });
            return {
              data: { tag: "attached" },
              headers: { "Set-Cookie": "session=abc123; HttpOnly", "X-Extra": "yes" },
            };
          case "/protocol":
            return { data: { tag: "protocol", protocolSeen: true } };
        }
      },
      websocket: {
        open(ws) {
          if (ws.data?.protocolSeen) ws.send(`protocol=${ws.protocol}`);
          else if (ws.data !== undefined) ws.send(`data=${ws.data.tag}`);
        },
        message(ws, message) {
          ws.send(message);
        },
      },
    });
  });
  after(() => server.stop());

  test("101 with the accept key of RFC 6455's sample key", async () => {
    const { client, response } = await exchange(server.port, upgradeRequest(server.port));
    assert.equal(response.status, 101);
    assert.equal(response.headers.get("sec-websocket-accept"), SAMPLE_ACCEPT);
    assert.equal(response.headers.get("upgrade")?.toLowerCase(), "websocket");
    assert.equal(response.headers.get("connection")?.toLowerCase(), "upgrade");
    assert.ok(!response.headers.has("sec-websocket-protocol"), "no protocol was offered");
    assert.ok(!response.headers.has("sec-websocket-extensions"), "no extension was offered");
    await expectEcho(client, "after the 101");
    client.destroy();
  });

  test("101 with the accept key for seed 004's key", async () => {
    const key = "60jj9YDlrvPB+DzLmVJzcg==";
    const { client, response } = await exchange(server.port, upgradeRequest(server.port, { key }));
    assert.equal(response.status, 101);
    assert.equal(response.headers.get("sec-websocket-accept"), "Cx7gYudkmGmF8rMFP1W1HbLkWRA=");
    await expectEcho(client, "seed 004");
    client.destroy();
  });

  test("a request written 1 byte at a time", async () => {
    const client = await RawClient.connect(server.port);
    await client.writeInPieces(enc.encode(upgradeRequest(server.port)), 1, 1);
    const response = await client.readResponseHead();
    assert.equal(response.status, 101);
    assert.equal(response.headers.get("sec-websocket-accept"), SAMPLE_ACCEPT);
    await expectEcho(client, "slow but fine");
    client.destroy();
  });

  test("frames sent in the same write as the request are not lost", async () => {
    const client = await RawClient.connect(server.port);
    client.write(concat(
      enc.encode(upgradeRequest(server.port)),
      clientFrame(OP.text, "first"),
      clientFrame(OP.text, "second"),
      clientFrame(OP.binary, new Uint8Array(300).fill(9)).subarray(0, 50),
    ));
    assert.equal((await client.readResponseHead()).status, 101);
    assert.equal(text((await client.nextFrame()).payload), "first");
    assert.equal(text((await client.nextFrame()).payload), "second");
    client.write(clientFrame(OP.binary, new Uint8Array(300).fill(9)).subarray(50));
    assert.deepEqual((await client.nextFrame()).payload, new Uint8Array(300).fill(9));
    client.destroy();
  });

  test("the end of the request and the start of a frame split across writes", async () => {
    const client = await RawClient.connect(server.port);
    const all = concat(enc.encode(upgradeRequest(server.port)), clientFrame(OP.text, "spanning"));
    const cut = enc.encode(upgradeRequest(server.port)).length - 2;
    client.write(all.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 10));
    client.write(all.subarray(cut, cut + 5));
    await new Promise((r) => setTimeout(r, 10));
    client.write(all.subarray(cut + 5));
    assert.equal((await client.readResponseHead()).status, 101);
    assert.equal(text((await client.nextFrame()).payload), "spanning");
    client.destroy();
  });

  test("header names and tokens are case-insensitive; Connection may be a list", async () => {
    const request = "GET /chat HTTP/1.1\r\n" +
      `host: 127.0.0.1:${server.port}\r\n` +
      "UPGRADE: WebSocket\r\n" +
      "connection: keep-alive, Upgrade\r\n" +
      `sec-websocket-key: ${SAMPLE_KEY}\r\n` +
      "SEC-WEBSOCKET-VERSION: 13\r\n" +
      "\r\n";
    const { client, response } = await exchange(server.port, request);
    assert.equal(response.status, 101);
    assert.equal(response.headers.get("sec-websocket-accept"), SAMPLE_ACCEPT);
    await expectEcho(client, "case");
    client.destroy();
  });

  test("Connection: Upgrade in a list with odd spacing, and a Host without a port", async () => {
    const { client, response } = await exchange(
      server.port,
      upgradeRequest(server.port, {
        headers: { Host: "localhost", Connection: "keep-alive ,  upgrade  " },
      }),
    );
    assert.equal(response.status, 101);
    client.destroy();
  });

  test("refusals with 400: missing Host, Connection or key; bad key; POST; HTTP/1.0", async () => {
    const port = server.port;
    const cases: Record<string, string> = {
      "no Host": upgradeRequest(port, { headers: { Host: null } }),
      "no Connection": upgradeRequest(port, { headers: { Connection: null } }),
      "Connection without upgrade": upgradeRequest(port, { headers: { Connection: "keep-alive" } }),
      "no key": upgradeRequest(port, { headers: { "Sec-WebSocket-Key": null } }),
      "key of 4 bytes": upgradeRequest(port, { key: "dGVzdA==" }),
      "key of 17 bytes": upgradeRequest(port, { key: "AAAAAAAAAAAAAAAAAAAAAAA=" }),
      "key of 15 bytes": upgradeRequest(port, { key: "AAAAAAAAAAAAAAAAAAAA" }),
      "key not base64": upgradeRequest(port, { key: "!!!!!!!!!!!!!!!!!!!!!!==" }),
      "empty key": upgradeRequest(port, { key: "" }),
      "POST": upgradeRequest(port).replace(/^GET/, "POST"),
      "HTTP/1.0": upgradeRequest(port).replace("HTTP/1.1\r\n", "HTTP/1.0\r\n"),
    };
    for (const request of Object.values(cases)) await expectRefusal(port, request, 400);
  });

  test("a request with no Upgrade header is not an upgrade: 426 without a fetch handler", async () => {
    // Without `Upgrade: websocket` the request is plain HTTP, not a broken handshake; this
    // server has no fetch handler, so it asks for an upgrade.
    const response = await expectRefusal(
      server.port,
      upgradeRequest(server.port, { headers: { Upgrade: null } }),
      426,
    );
    assert.equal(response.headers.get("upgrade")?.toLowerCase(), "websocket");
  });

  test("an unsupported version is refused with 426 naming version 13", async () => {
    for (const version of ["8", "12", "14", null]) {
      const response = await expectRefusal(
        server.port,
        upgradeRequest(server.port, { headers: { "Sec-WebSocket-Version": version } }),
        426,
      );
      assert.equal(response.headers.get("sec-websocket-version"), "13");
    }
  });

  test("subprotocol: the client's first supported offer wins", async () => {
    for (
      const [offer, expected] of [
        ["chat, superchat", "chat"],
        ["superchat, chat", "superchat"],
        ["unknown, chat", "chat"],
        ["unknown", null],
      ] as const
    ) {
      const { client, response } = await exchange(
        server.port,
        upgradeRequest(server.port, {
          path: "/protocol",
          headers: { "Sec-WebSocket-Protocol": offer },
        }),
      );
      assert.equal(response.status, 101, offer);
      assert.equal(response.headers.get("sec-websocket-protocol") ?? null, expected, offer);
      assert.equal(text((await client.nextFrame()).payload), `protocol=${expected ?? ""}`);
      client.destroy();
    }
  });

  test("subprotocol offers in repeated headers are combined", async () => {
    const request = upgradeRequest(server.port).replace(
      "\r\n\r\n",
      "\r\nSec-WebSocket-Protocol: unknown\r\nSec-WebSocket-Protocol: superchat\r\n\r\n",
    );
    const { client, response } = await exchange(server.port, request);
    assert.equal(response.status, 101);
    assert.equal(response.headers.get("sec-websocket-protocol"), "superchat");
    client.destroy();
  });

  test("an upgrade hook choosing a protocol the client did not offer refuses with 500", async () => {
    for (const offer of [null, "chat"]) {
      await expectRefusal(
        server.port,
        upgradeRequest(server.port, {
          path: "/wrong-protocol",
          headers: { "Sec-WebSocket-Protocol": offer },
        }),
        500,
      );
    }
  });

  test("an upgrade hook that throws refuses with 500", async () => {
    await expectRefusal(server.port, upgradeRequest(server.port, { path: "/throws" }), 500);
  });

  test("an upgrade hook returning a 403 Response refuses with it", async () => {
    const response = await expectRefusal(
      server.port,
      upgradeRequest(server.port, {
        path: "/origin",
        headers: { Origin: "https://evil.example" },
      }),
      403,
    );
    assert.equal(response.body, "forbidden origin");
    assert.equal(response.headers.get("x-reason"), "origin");
    const { client, response: ok } = await exchange(
      server.port,
      upgradeRequest(server.port, {
        path: "/origin",
        headers: { Origin: "https://good.example" },
      }),
    );
    assert.equal(ok.status, 101);
    assert.equal(text((await client.nextFrame()).payload), "data=origin ok");
    client.destroy();
  });

  test("the upgrade hook sees a standard Request and the client's address; data and headers go through", async () => {
    const before = seen.length;
    const { client, response } = await exchange(
      server.port,
      upgradeRequest(server.port, {
        path: "/inspect?room=42",
        headers: {
          Origin: "https://good.example",
          "Sec-WebSocket-Protocol": "chat, other",
          "X-Custom": "value",
        },
      }),
    );
    assert.equal(response.status, 101);
    assert.equal(seen.length, before + 1);
    const { request, info } = seen[seen.length - 1];
    assert.ok(request instanceof Request);
    assert.equal(request.method, "GET");
    assert.equal(request.url, `http://127.0.0.1:${server.port}/inspect?room=42`);
    assert.equal(request.headers.get("origin"), "https://good.example");
    assert.equal(request.headers.get("x-custom"), "value");
    assert.equal(request.headers.get("sec-websocket-key"), SAMPLE_KEY);
    assert.equal(info.remoteAddress.hostname, "127.0.0.1");
    assert.equal(typeof info.remoteAddress.port, "number");
    assert.deepEqual(info.protocols, ["chat", "other"]);
    // The hook did not choose a protocol, so the server's list did.
    assert.equal(response.headers.get("sec-websocket-protocol"), "chat");
    assert.equal(response.headers.get("set-cookie"), "session=abc123; HttpOnly");
    assert.equal(response.headers.get("x-extra"), "yes");
    assert.equal(response.headers.get("sec-websocket-accept"), SAMPLE_ACCEPT);
    // `data` is ws.data in open.
    assert.equal(text((await client.nextFrame()).payload), "data=attached");
    await expectEcho(client, "after inspect");
    client.destroy();
  });

  test("a plain GET without a fetch handler gets 426", async () => {
    const response = await expectRefusal(
      server.port,
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`,
      426,
    );
    assert.equal(response.headers.get("sec-websocket-version"), "13");
  });

  test("the server still accepts upgrades after all the refusals", async () => {
    const client = await RawClient.open(server.port);
    await expectEcho(client, "still serving");
    client.destroy();
  });
});

describe("handshake: fetch handler", () => {
  let server: WebSocketServer;
  before(() => {
    server = startServer({
      fetch(request, info) {
        const url = new URL(request.url);
        return new Response(`page for ${url.pathname} from ${info.remoteAddress.hostname}`, {
          status: url.pathname === "/missing" ? 404 : 200,
          headers: { "content-type": "text/html; charset=utf-8", "x-handler": "fetch" },
        });
      },
    });
  });
  after(() => server.stop());

  test("a plain GET gets the fetch handler's response, then the connection closes", async () => {
    const client = await RawClient.connect(server.port);
    client.write(`GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    const response = await client.readResponse();
    assert.equal(response.status, 200);
    assert.equal(response.body, "page for /index.html from 127.0.0.1");
    assert.equal(response.headers.get("x-handler"), "fetch");
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(response.headers.get("content-length"), String(response.body.length));
    assert.equal(client.ended, true);
  });

  test("the fetch handler's status is kept", async () => {
    const client = await RawClient.connect(server.port);
    client.write(`GET /missing HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    assert.equal((await client.readResponse()).status, 404);
  });

  test("an upgrade request on the same server still upgrades", async () => {
    const client = await RawClient.open(server.port);
    await expectEcho(client, "ws next to fetch");
    client.destroy();
  });
});

/**
 * wss:// both ways, with the throwaway test CA in tests/fixtures/tls/: our client against our TLS
 * server (in-process and on the other runtime) and against Bun's native TLS server; the built-in
 * `WebSocket` clients of Deno and Bun against our TLS server.
 *
 * How the built-in clients are made to trust a private CA, as found on this machine (Deno 2.9.6,
 * Bun 1.4.5): Deno honours `DENO_CERT=<ca.pem>` and also `NODE_EXTRA_CA_CERTS=<ca.pem>`; Bun
 * honours only `NODE_EXTRA_CA_CERTS` (it ignores `DENO_CERT`). Without either, both refuse the
 * certificate (Deno: "invalid peer certificate: UnknownIssuer"; Bun: "unable to verify the first
 * certificate").
 *
 * Under backpressure, the bytes a TLS server has queued are the bytes it was given.
 *
 * And a "server" that accepts TCP on a wss:// port but never answers the ClientHello: `connect()`
 * fails at its `timeout`, saying that the TLS handshake did not complete.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { connect, WebSocketHandshakeError, type WebSocketServer } from "../../mod.ts";
import { killChildren, scriptCommand, startChild } from "../helpers/processes.ts";
import { CA_PATH, TLS_CA, TLS_CERT, TLS_KEY } from "../helpers/tls.ts";
import { OTHER_RUNTIMES, startServer } from "../helpers/servers.ts";
import { sleep, WAIT_MS, within } from "../helpers/timing.ts";
import { finish, type Probe, probe } from "./_probe.ts";
import { startInProcess, startPeerServer } from "./_targets.ts";

after(() => killChildren());

async function echoes(url: string, options: Parameters<typeof probe>[1]): Promise<Probe> {
  const p = await probe(url, options);
  p.ws.send("secure ✓");
  assert.equal(await p.messages.next("text echo"), "secure ✓");
  p.ws.send(Uint8Array.from([0, 1, 255]));
  const binary = await p.messages.next("binary echo");
  assert.ok(binary instanceof Uint8Array);
  assert.deepEqual(Array.from(binary), [0, 1, 255]);
  // A 1 MiB message goes through TLS records and back whole.
  const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) & 255);
  p.ws.send(big);
  const bigEcho = await p.messages.next("1 MiB echo");
  assert.ok(bigEcho instanceof Uint8Array && bigEcho.length === big.length);
  assert.ok(bigEcho.every((byte, i) => byte === big[i]), "1 MiB echo differs");
  return p;
}

async function closesCleanly(p: Probe): Promise<void> {
  p.ws.close(4000, "bye");
  const info = await within(p.ws.closed, WAIT_MS, "closed");
  assert.equal(info.code, 4000);
  assert.equal(info.wasClean, true);
}

describe("wss:// under backpressure (in-process)", () => {
  let server: WebSocketServer | undefined;
  after(() => server?.stop());

  test("what waits in the TLS socket's buffer is what was sent", { timeout: 30_000 }, async () => {
    // Distinct messages to a client that reads only later, so that the socket's buffer fills:
    // 1,600 of 4 KiB, three a turn (batches smaller than the socket's own buffer, which it takes
    // while a write is still in progress), then 100 of 16 KiB at once (batches larger than it).
    // The sender's pooled write buffers are reused meanwhile: a TLS socket that kept a reference
    // to one instead of its bytes would send a later batch's bytes.
    const small = 1600;
    const count = small + 100;
    const message = (i: number) =>
      new Uint8Array(i < small ? 4096 : 16 * 1024).fill(i % 251).map((b, j) => b ^ (j & 7));
    server = startServer({
      tls: { cert: TLS_CERT, key: TLS_KEY },
      websocket: {
        async open(ws) {
          for (let i = 0; i < small; i++) {
            ws.send(message(i));
            if (i % 3 === 2) await new Promise((resolve) => setTimeout(resolve, 0));
          }
          for (let i = small; i < count; i++) ws.send(message(i));
        },
      },
    });
    const ws = await connect(`wss://127.0.0.1:${server.port}/`, { tls: { caCerts: [TLS_CA] } });
    await sleep(1500); // nobody reads: the server's writes back up
    let i = 0;
    for await (const received of ws) {
      assert.ok(received instanceof Uint8Array);
      assert.deepEqual(received, message(i), `message ${i}`);
      if (++i === count) break;
    }
    ws.close();
  });
});

describe("our client → our TLS server (in-process)", () => {
  let server: WebSocketServer | undefined;
  let port = 0;
  before(() => {
    server = startInProcess(true).server;
    port = server.port;
  });
  after(() => server?.stop());

  test("trusting the test CA: messages both ways and a clean close", async () => {
    const p = await echoes(`wss://127.0.0.1:${port}/`, { tls: { caCerts: [TLS_CA] } });
    await closesCleanly(p);
  });

  test("the certificate's DNS name, via serverName", async () => {
    const p = await echoes(`wss://127.0.0.1:${port}/`, {
      tls: { caCerts: [TLS_CA], serverName: "localhost" },
      protocols: ["chat"],
    });
    assert.equal(p.ws.protocol, "chat");
    await closesCleanly(p);
  });

  test("without the CA: WebSocketHandshakeError", async () => {
    const error = await within(
      connect(`wss://127.0.0.1:${port}/`).catch((e) => e),
      WAIT_MS,
      "connect",
    );
    assert.ok(error instanceof WebSocketHandshakeError, String(error));
    assert.equal(
      error.message,
      `could not connect to wss://127.0.0.1:${port}/: the TLS handshake failed: the server's ` +
        "certificate is not trusted (for a private CA, pass tls: { caCerts })",
    );
    assert.ok(error.cause instanceof Error, "the runtime's error is the cause");
    assert.equal(error.status, undefined);
  });

  test("a name the certificate does not cover: WebSocketHandshakeError", async () => {
    const error = await within(
      connect(`wss://127.0.0.1:${port}/`, {
        tls: { caCerts: [TLS_CA], serverName: "example.com" },
      }).catch((e) => e),
      WAIT_MS,
      "connect",
    );
    assert.ok(error instanceof WebSocketHandshakeError, String(error));
    assert.equal(
      error.message,
      `could not connect to wss://127.0.0.1:${port}/: the TLS handshake failed: the server's ` +
        "certificate is not valid for example.com",
    );
  });

  test("plain ws:// to the TLS port: WebSocketHandshakeError, no hang", async () => {
    const error = await within(
      connect(`ws://127.0.0.1:${port}/`, { timeout: 5_000 }).catch((e) => e),
      WAIT_MS,
      "connect",
    );
    assert.ok(error instanceof WebSocketHandshakeError, String(error));
  });

  for (const runtime of ["deno", "bun", "node"] as const) {
    const env = runtime === "deno" ? "DENO_CERT" : "NODE_EXTRA_CA_CERTS";
    test(`${runtime}'s built-in WebSocket, trusting the CA through ${env}`, async () => {
      const [command, args] = scriptCommand(runtime, "tests/peers/builtin_wss_client.mjs", [
        `wss://127.0.0.1:${port}/`,
      ]);
      const child = startChild(command, args, { deadlineMs: 30_000, env: { [env]: CA_PATH } });
      const { code } = await child.exited;
      const result = JSON.parse(child.stdout().trim().split("\n").pop() ?? "null");
      assert.deepEqual(
        result,
        { ok: true, echo: "hello ✓", code: 1000, reason: "" },
        child.stderr(),
      );
      assert.equal(code, 0);
    });

    test(`${runtime}'s built-in WebSocket without the CA is refused`, async () => {
      const [command, args] = scriptCommand(runtime, "tests/peers/builtin_wss_client.mjs", [
        `wss://127.0.0.1:${port}/`,
      ]);
      // Neither variable: make sure none leaks in from the test's environment.
      const child = startChild(command, args, {
        deadlineMs: 30_000,
        env: { DENO_CERT: "", NODE_EXTRA_CA_CERTS: "" },
      });
      const { code } = await child.exited;
      const result = JSON.parse(child.stdout().trim().split("\n").pop() ?? "null");
      assert.equal(result?.ok, false, child.stdout());
      assert.notEqual(code, 0);
    });
  }
});

for (
  const [name, runtime, script] of [
    ...OTHER_RUNTIMES.map((runtime) =>
      [
        `our client → edgews TLS server on ${runtime} (child)`,
        runtime,
        "tests/peers/edgews_echo_server.ts",
      ] as const
    ),
    [
      "our client → Bun.serve native TLS websocket (child)",
      "bun",
      "tests/peers/bun_native_echo_server.ts",
    ],
  ] as const
) {
  describe(name, () => {
    let port = 0;
    let stop = () => {};
    before(async () => {
      const started = await startPeerServer(runtime, script, ["--tls"]);
      port = started.port;
      stop = () => started.child.kill();
    });
    after(() => stop());

    test("trusting the test CA: messages both ways, server close reaches us", async () => {
      const p = await echoes(`wss://127.0.0.1:${port}/`, { tls: { caCerts: [TLS_CA] } });
      p.ws.send("cmd:close");
      const info = await within(p.ws.closed, WAIT_MS, "closed");
      assert.deepEqual(info, { code: 4001, reason: "server bye", wasClean: true });
      await finish(p);
    });

    test("without the CA: WebSocketHandshakeError", async () => {
      const error = await within(
        connect(`wss://127.0.0.1:${port}/`).catch((e) => e),
        WAIT_MS,
        "connect",
      );
      assert.ok(error instanceof WebSocketHandshakeError, String(error));
    });
  });
}

describe("our client → a wss:// port that never answers the TLS handshake", () => {
  const held: net.Socket[] = [];
  const silent = net.createServer((socket) => {
    // Reads the ClientHello and says nothing.
    held.push(socket);
    socket.on("error", () => {});
  });
  before(() => new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve)));
  after(() => {
    for (const socket of held) socket.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  test("connect() fails at its timeout: the TLS handshake did not complete", async () => {
    const port = (silent.address() as net.AddressInfo).port;
    const startedAt = Date.now();
    const error = await within(
      connect(`wss://127.0.0.1:${port}/`, { timeout: 1_000, tls: { caCerts: [TLS_CA] } }).then(
        () => new Error("connected"),
        (error) => error,
      ),
      5_000,
      "connect to settle",
    );
    const ms = Date.now() - startedAt;
    assert.ok(error instanceof WebSocketHandshakeError, String(error));
    assert.equal(
      error.message,
      `connected to 127.0.0.1:${port}, but the TLS handshake did not complete within 1000 ms`,
    );
    assert.ok(ms >= 900 && ms <= 2_000, `rejected after ${ms} ms`);
    assert.equal(held.length, 1, "the client reached the server");
  });
});

/**
 * When listening or connecting fails, the message is the same on Deno and Bun (the same
 * assertions run under both), names the address or URL and the cause in plain words, and keeps
 * the runtime's own error as `cause`. Deno and Bun word these differently on their own: a port in
 * use is `AddrInUse: Address already in use (os error 98)` on Deno and `Failed to listen at
 * 127.0.0.1` on Bun; a refused connection "Connection refused" and "Failed to connect".
 *
 * Real TCP on 127.0.0.1 only: a closed port for "refused", a node:net server that accepts and
 * says nothing for the handshake and TLS timeouts, a listener whose accept queue is full (a Deno
 * child, see _full_backlog.ts) for the TCP timeout. The timeouts are options; no elapsed time is
 * asserted.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import process from "node:process";
import { readFileSync } from "node:fs";
import { connect, serve, WebSocketHandshakeError, type WebSocketServer } from "../../mod.ts";
import { freePort, killChildren, scriptCommand, startChild } from "../helpers/processes.ts";
import { WAIT_MS, within } from "../helpers/timing.ts";
import { skipName } from "../helpers/skip.ts";

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await killChildren();
});

/** A node:net server on 127.0.0.1; `onSocket` sees each connection. */
async function rawServer(onSocket: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {}); // the client dropping the socket is expected here
    socket.on("close", () => sockets.delete(socket));
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as net.AddressInfo).port;
}

function plainServer(): WebSocketServer {
  const server = serve({ hostname: "127.0.0.1", port: 0, websocket: { message() {} } });
  cleanups.push(() => server.stop());
  return server;
}

/** The error `connect` rejects with; it must reject, within the test's own deadline. */
function connectError(url: string, options: Parameters<typeof connect>[1] = {}): Promise<Error> {
  return within(
    connect(url, options).then(
      (ws) => {
        ws.terminate();
        throw new Error(`connected to ${url}, but should have failed`);
      },
      (error: Error) => error,
    ),
    WAIT_MS,
    `connect(${url}) to fail`,
  );
}

/** A WebSocketHandshakeError with exactly `message`, and the runtime's error as its cause. */
function assertHandshakeError(error: Error, message: string, withCause = true): void {
  assert.ok(error instanceof WebSocketHandshakeError, `${error.name}: ${error.message}`);
  assert.equal(error.message, message);
  assert.equal(error.status, undefined, "the server did not answer with HTTP");
  if (withCause) assert.ok(error.cause instanceof Error, "the runtime's error is the cause");
}

describe("serve() cannot listen: one wording on both runtimes", () => {
  test("the port is taken", () => {
    const first = plainServer();
    assert.throws(
      () => serve({ hostname: "127.0.0.1", port: first.port, websocket: {} }).stop(),
      (error: Error & { code?: string }) => {
        assert.equal(error.constructor, Error, `${error.name}: ${error.message}`);
        assert.equal(
          error.message,
          `cannot listen on 127.0.0.1:${first.port}: the address is already in use`,
        );
        assert.equal(error.code, "EADDRINUSE");
        assert.ok(error.cause instanceof Error, "the runtime's error is the cause");
        assert.notEqual(error.cause, error);
        return true;
      },
    );
  });

  test("the host name does not resolve", () => {
    assert.throws(
      () => serve({ hostname: "no-such-host.invalid", port: 0, websocket: {} }).stop(),
      (error: Error & { code?: string }) => {
        assert.equal(error.constructor, Error, `${error.name}: ${error.message}`);
        assert.equal(
          error.message,
          "cannot listen on no-such-host.invalid:0: the host name could not be resolved",
        );
        assert.equal(error.code, "ENOTFOUND");
        assert.ok(error.cause instanceof Error, "the runtime's error is the cause");
        return true;
      },
    );
  });

  const unprivilegedFrom = (() => {
    try {
      return Number(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8"));
    } catch {
      return 1024;
    }
  })();
  const privileged = process.getuid?.() === 0 || unprivilegedFrom <= 1;
  const mayListenAnywhere = privileged &&
    "this process may listen on any port (root, or a lowered limit)";
  test(
    skipName("a port below 1024, without the privilege", mayListenAnywhere),
    { skip: mayListenAnywhere },
    () => {
      assert.throws(
        () => serve({ hostname: "127.0.0.1", port: 1, websocket: {} }).stop(),
        (error: Error & { code?: string }) => {
          assert.equal(
            error.message,
            "cannot listen on 127.0.0.1:1: permission denied (ports below 1024 need root or " +
              "CAP_NET_BIND_SERVICE)",
          );
          assert.equal(error.code, "EACCES");
          assert.ok(error.cause instanceof Error, "the runtime's error is the cause");
          return true;
        },
      );
    },
  );
});

describe("connect() fails: one wording on both runtimes", () => {
  test("refused: nothing listens on the port", async () => {
    const port = await freePort();
    const error = await connectError(`ws://127.0.0.1:${port}/`);
    assertHandshakeError(
      error,
      `could not connect to ws://127.0.0.1:${port}/: the connection was refused (is the server ` +
        "running, on that port?)",
    );
    assert.equal((error.cause as { code?: string }).code, "ECONNREFUSED");
  });

  test("the URL in the message is the one dialled (http:// taken as ws://)", async () => {
    const port = await freePort();
    const error = await connectError(`http://127.0.0.1:${port}/chat?room=1`);
    assert.match(
      error.message,
      new RegExp(`^could not connect to ws://127\\.0\\.0\\.1:${port}/chat\\?room=1: `),
    );
  });

  test("timed out before TCP connected", async (t) => {
    const [command, args] = scriptCommand("deno", "tests/first_contact/_full_backlog.ts");
    const child = startChild(command, args, { deadlineMs: 60_000 });
    cleanups.push(() => child.kill());
    const ready = await child.waitForEvent((event) => "port" in event || "skip" in event);
    if ("skip" in ready) {
      // Decided only now, so the name cannot say it; neither runner prints t.skip()'s reason.
      console.warn(`skipped: ${ready.skip}`);
      return t.skip(String(ready.skip));
    }
    const port = Number(ready.port);
    const error = await connectError(`ws://127.0.0.1:${port}/`, { timeout: 500 });
    assertHandshakeError(
      error,
      `timed out connecting to 127.0.0.1:${port}: no TCP connection within 500 ms`,
      false,
    );
  });

  test("connected, but the server never answered the handshake", async () => {
    const port = await rawServer(() => {}); // accepts, reads, says nothing
    const error = await connectError(`ws://127.0.0.1:${port}/`, { timeout: 500 });
    assertHandshakeError(
      error,
      `connected to 127.0.0.1:${port}, but the server did not complete the WebSocket handshake ` +
        "within 500 ms",
      false,
    );
  });

  test("wss://, connected, but the server never answered the TLS handshake", async () => {
    const port = await rawServer(() => {});
    const error = await connectError(`wss://127.0.0.1:${port}/`, { timeout: 500 });
    assertHandshakeError(
      error,
      `connected to 127.0.0.1:${port}, but the TLS handshake did not complete within 500 ms`,
      false,
    );
  });

  const notTls = (port: number) =>
    `could not connect to wss://127.0.0.1:${port}/: the TLS handshake failed: the server at ` +
    `127.0.0.1:${port} does not speak TLS (is it ws:// rather than wss://?)`;

  test("wss:// to a plain ws:// edgews server", async () => {
    const { port } = plainServer();
    assertHandshakeError(await connectError(`wss://127.0.0.1:${port}/`), notTls(port));
  });

  test("wss:// to a plain HTTP server", async () => {
    const port = await rawServer((socket) => {
      socket.once(
        "data",
        () => socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
      );
    });
    assertHandshakeError(await connectError(`wss://127.0.0.1:${port}/`), notTls(port));
  });

  test("ws:// to a server that answers with TLS", async () => {
    // A TLS alert record (fatal, protocol_version), as a TLS server answers plain HTTP.
    const port = await rawServer((socket) => {
      socket.once("data", () => socket.end(Uint8Array.from([0x15, 0x03, 0x03, 0x00, 0x02, 2, 70])));
    });
    assertHandshakeError(
      await connectError(`ws://127.0.0.1:${port}/`),
      `the server at 127.0.0.1:${port} answered with TLS, not HTTP (is it wss:// rather than ` +
        "ws://?)",
      false,
    );
  });
});

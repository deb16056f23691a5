/**
 * Shutdown under load: 50 clients (in a Node process) send numbered messages continuously. After
 * `server.shutdown({ timeout })`, every message the server received before its close frame must
 * have been echoed to that client before the close frame, in order; every client sees 1001; every
 * closing handshake completes (no connection is dropped at the timeout) and `finished` resolves.
 * Then the same through SIGINT: examples/echo.ts under the same load exits with 0, its clients
 * closed with 1001.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { CloseInfo, WebSocketServer } from "../../mod.ts";
import { RUNTIME, startServer } from "../helpers/servers.ts";
import { within } from "../helpers/timing.ts";
import { startDriver, startEchoExample } from "./_processes.ts";
import { freePort, killChildren } from "../helpers/processes.ts";

const CLIENTS = 50;
const WINDOW = 16;
const TIMEOUT = 5_000;

interface StreamReport {
  failures: string[];
  error?: string;
  clients: Array<{
    id: number;
    sent: number;
    echoed: number;
    outOfOrder: number;
    afterClose: number;
    closeCode: number | null;
    closeReason: string | null;
  }>;
}

describe("shutdown under load", () => {
  let server: WebSocketServer<{ id: number; handed: number; other: number }> | undefined;
  after(async () => {
    killChildren();
    await server?.stop();
  });

  test("server.shutdown(): everything received is echoed before 1001", {
    timeout: 60_000,
  }, async () => {
    const closes: CloseInfo[] = [];
    server = startServer({
      upgrade(request) {
        const id = Number(new URL(request.url).searchParams.get("id"));
        return { data: { id, handed: 0, other: 0 } };
      },
      websocket: {
        message(ws, message) {
          if (ws.send(message) === "sent") ws.data.handed++;
          else ws.data.other++;
        },
        close(ws) {
          ws.closed.then((info) => closes.push(info));
        },
      },
    });
    const connections = () => [...server!.connections()];
    const driver = startDriver("stream", {
      port: server.port,
      clients: CLIENTS,
      window: WINDOW,
      maxMs: 40_000,
    });
    await driver.waitForLine("READY", 30_000);
    const open = connections();
    assert.equal(open.length, CLIENTS);

    const started = Date.now();
    const shutdown = server.shutdown({ timeout: TIMEOUT });
    await within(server.finished, TIMEOUT + 5_000, "finished");
    await shutdown;
    const elapsed = Date.now() - started;
    const report = await driver.report<StreamReport>(20_000);
    console.log(
      `shutdown on ${RUNTIME}: finished after ${elapsed} ms; ${report.clients.length} clients, ` +
        `${report.clients.reduce((n, c) => n + c.echoed, 0)} echoes`,
    );

    assert.equal(report.error, undefined);
    assert.equal(report.clients.length, CLIENTS);
    const byId = new Map(open.map((ws) => [ws.data.id, ws.data]));
    for (const client of report.clients) {
      const data = byId.get(client.id)!;
      assert.equal(data.other, 0, "send never refused a message");
      assert.equal(client.closeCode, 1001, `client ${client.id} close code`);
      assert.equal(client.closeReason, "server shutting down");
      assert.equal(client.outOfOrder, 0, `client ${client.id} echoes in order`);
      assert.equal(client.afterClose, 0, `client ${client.id}: nothing after the close frame`);
      assert.equal(
        client.echoed,
        data.handed,
        `client ${client.id}: every message the server took was echoed before its close frame`,
      );
      assert.ok(client.sent >= client.echoed);
    }
    assert.equal(closes.length, CLIENTS);
    for (const info of closes) {
      // The code and reason are the peer's answer: the driver echoes the code without a reason.
      assert.deepEqual(info, { code: 1001, reason: "", wasClean: true });
    }
    assert.equal(server.connectionCount, 0);
  });

  test("examples/echo.ts under load exits on SIGINT, clients closed with 1001", {
    timeout: 90_000,
  }, async () => {
    const port = await freePort();
    const echo = startEchoExample(port, 60_000);
    await echo.waitForLine("echo server on ", 30_000);
    const driver = startDriver("stream", { port, clients: CLIENTS, window: WINDOW, maxMs: 40_000 });
    await driver.waitForLine("READY", 30_000);
    echo.signal("SIGINT");
    // shutdown() waits up to closeTimeout (10 s by default) for the closing handshakes.
    const exit = await within(echo.exited, 20_000, "the echo example's exit");
    const report = await driver.report<StreamReport>(20_000);
    assert.deepEqual(exit, { code: 0, signal: null }, echo.stderr());
    assert.equal(report.clients.length, CLIENTS);
    for (const client of report.clients) {
      assert.equal(client.closeCode, 1001);
      assert.equal(client.outOfOrder, 0);
      assert.equal(client.afterClose, 0);
      assert.ok(client.echoed >= 20);
    }
  });
});

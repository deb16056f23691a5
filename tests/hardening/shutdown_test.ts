/**
 * Shutdown under load: 50 clients (in a Node process) send numbered messages continuously. The
 * driver marks how many each client has sent; once the server has read all of those, while the
 * clients go on sending, `server.shutdown({ timeout })` begins. Every message a client sent before
 * the mark must come back, and every message the server received before its close frame must
 * have been echoed to that client before the close frame, in order; every client sees 1001
 * "server shutting down"; every closing handshake completes well within the timeout (no
 * connection is dropped at it) and `finished` resolves.
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
    /** How many it had sent when the driver was told to mark (null: it never was). */
    sentAtMark: number | null;
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
    /** Per client id, how many it had sent at the mark, until the server has received them all. */
    let unread: Map<number, number> | null = null;
    let startShutdown!: (at: number) => void;
    const shutdownStarted = new Promise<number>((resolve) => startShutdown = resolve);
    server = startServer({
      upgrade(request) {
        const id = Number(new URL(request.url).searchParams.get("id"));
        return { data: { id, handed: 0, other: 0 } };
      },
      websocket: {
        message(ws, message) {
          if (ws.send(message) === "sent") ws.data.handed++;
          else ws.data.other++;
          if (unread === null) return;
          const mark = unread.get(ws.data.id);
          if (mark !== undefined && ws.data.handed + ws.data.other >= mark) {
            unread.delete(ws.data.id);
          }
          if (unread.size === 0) {
            // Everything sent before the mark has been received: shut down now, in the middle of
            // the load, with this echo (and maybe others) still queued.
            unread = null;
            startShutdown(Date.now());
            server!.shutdown({ timeout: TIMEOUT });
          }
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
    const byId = new Map(open.map((ws) => [ws.data.id, ws.data]));

    // Mark what each client has sent. The load goes on, and the first message callback after the
    // server has received all of those starts the shutdown (above): those messages were all sent,
    // and received, before it began.
    driver.tell("MARK");
    const marked: Record<string, number> = JSON.parse(
      (await driver.waitForLine("MARKED ", 10_000)).slice("MARKED ".length),
    );
    unread = new Map(Object.entries(marked).map(([id, sent]) => [Number(id), sent]));
    for (const [id, sent] of unread) {
      if (byId.get(id)!.handed + byId.get(id)!.other >= sent) unread.delete(id);
    }
    const started = await within(shutdownStarted, 10_000, "the shutdown to begin");
    await within(server.finished, TIMEOUT + 5_000, "finished");
    await server.shutdown();
    const elapsed = Date.now() - started;
    const sentBefore = Object.values(marked).reduce((n, sent) => n + sent, 0);
    const report = await driver.report<StreamReport>(20_000);
    console.log(
      `shutdown on ${RUNTIME}: finished after ${elapsed} ms; ${report.clients.length} clients, ` +
        `${sentBefore} messages sent before it began, ` +
        `${report.clients.reduce((n, c) => n + c.echoed, 0)} echoes`,
    );

    assert.equal(report.error, undefined);
    assert.equal(report.clients.length, CLIENTS);
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
      // Everything sent before the shutdown began came back (the server had read it all).
      assert.equal(client.sentAtMark, marked[client.id]);
      assert.ok(client.sentAtMark! >= 20, `client ${client.id} was under load`);
      assert.ok(
        client.echoed >= client.sentAtMark!,
        `client ${client.id}: ${client.echoed} echoes of ${client.sentAtMark} sent before shutdown`,
      );
    }
    assert.equal(closes.length, CLIENTS);
    for (const info of closes) {
      // The code and reason are the peer's answer: the driver echoes the code without a reason.
      assert.deepEqual(info, { code: 1001, reason: "", wasClean: true });
    }
    assert.equal(server.connectionCount, 0);
    // The closing handshakes all completed: shutdown never reached its timeout.
    assert.ok(elapsed < TIMEOUT / 2, `shutdown took ${elapsed} ms (timeout ${TIMEOUT} ms)`);
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

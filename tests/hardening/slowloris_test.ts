/**
 * Slowloris: 500 sockets (in a Node process) send a valid upgrade request one byte per second.
 * Each must be dropped at the handshake timeout (2 s here), answered with 408 or simply closed,
 * long before its request could finish; meanwhile a normal client connects and echoes.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketServer } from "../../mod.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { RUNTIME, startServer } from "../helpers/servers.ts";
import { clientFrame, OP, text } from "../helpers/wire.ts";
import { startDriver } from "./_processes.ts";
import { killChildren } from "../helpers/processes.ts";

const SLOW = 500;
const HANDSHAKE_TIMEOUT = 2_000;

interface SlowReport {
  count: number;
  closed: number;
  maxBytesSent: number;
  answers: Record<string, number>;
  errors: Record<string, number>;
  maxOpenMs: number;
  error?: string;
}

describe("slowloris", () => {
  let server: WebSocketServer;
  after(async () => {
    killChildren();
    await server?.stop();
  });

  test(`${SLOW} one-byte-per-second handshakes are dropped; others get through`, {
    timeout: 60_000,
  }, async () => {
    server = startServer({ handshakeTimeout: HANDSHAKE_TIMEOUT });
    const driver = startDriver("slowloris", {
      port: server.port,
      count: SLOW,
      intervalMs: 1_000,
      // A request is ~150 bytes: without the timeout, the sockets would still be dripping.
      maxMs: 30_000,
    });
    await driver.waitForLine("READY ", 20_000);

    // While they drip: a normal client opens and echoes.
    const client = await RawClient.open(server.port);
    for (let i = 0; i < 5; i++) {
      client.write(clientFrame(OP.text, `hello ${i}`));
      const echo = await client.nextFrame();
      assert.equal(text(echo.payload), `hello ${i}`);
    }

    const report = await driver.report<SlowReport>(40_000);
    console.log(`slowloris on ${RUNTIME}: ${JSON.stringify(report)}`);
    assert.equal(report.error, undefined);
    assert.equal(report.count, SLOW);
    assert.equal(report.closed, SLOW, "the server closed every slow socket");
    assert.ok(report.maxBytesSent < 30, `a slow socket sent ${report.maxBytesSent} bytes`);
    for (const answer of Object.keys(report.answers)) {
      assert.ok(
        answer === "(nothing)" || answer.startsWith("HTTP/1.1 408"),
        `a slow socket got ${answer}`,
      );
    }

    // The normal client still works after the slow ones are gone, and is the only connection.
    client.write(clientFrame(OP.text, "still here"));
    assert.equal(text((await client.nextFrame()).payload), "still here");
    assert.equal(server.connectionCount, 1);
    client.destroy();
  });
});

/**
 * Slowloris: 500 sockets (in a Node process) send a valid upgrade request one byte per second.
 * Each must be dropped at the handshake timeout (2 s here), answered with 408 or simply closed,
 * long before its request could finish; meanwhile a normal client connects and echoes.
 *
 * The same against the other ways to hold a socket before a request is complete, with the server
 * in its own process (so its open descriptors can be counted, from /proc): 500 sockets to a
 * `wss://` port that send nothing, 500 that send half a ClientHello (both must be closed at
 * `handshakeTimeout`, which counts from TCP accept), and 500 requests for the `fetch` handler
 * whose body never comes (408 at `bodyTimeout`). Each socket must be gone by twice its timeout and
 * not before 80% of it; a client echoes all along, and the server's descriptors come back.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type WebSocketServer } from "../../mod.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { sleep } from "../helpers/timing.ts";
import { RUNTIME, startServer } from "../helpers/servers.ts";
import { clientFrame, OP, text } from "../helpers/wire.ts";
import {
  descriptorsBackTo,
  settledOpenFiles,
  startDriver,
  startServerProcess,
} from "./_processes.ts";
import { killChildren } from "../helpers/processes.ts";
import { TLS_CA, TLS_CERT, TLS_KEY } from "../helpers/tls.ts";

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

/** The stall driver's report (tests/hardening/_driver.mjs). */
interface StallReport {
  count: number;
  closed: number;
  answers: Record<string, number>;
  errors: Record<string, number>;
  minOpenMs: number;
  maxOpenMs: number;
  error?: string;
}

const STALLED = 500;
/** The timeout each wave is held to; every stalled socket must close within [0.8, 2] × it. */
const TIMEOUT = 1_000;
const TLS = { cert: TLS_CERT, key: TLS_KEY };
const CA = TLS_CA;

/**
 * The first 43 bytes of a ClientHello: a handshake record announcing 512 bytes, a ClientHello of
 * 508 for TLS 1.2, its random, and then nothing: the server waits for the rest of the record.
 */
const HALF_CLIENT_HELLO = Uint8Array.from([
  0x16,
  0x03,
  0x01,
  0x02,
  0x00, // record: handshake, TLS 1.0 framing, 512 bytes
  0x01,
  0x00,
  0x01,
  0xfc,
  0x03,
  0x03, // ClientHello, 508 bytes, TLS 1.2
  ...new Array<number>(32).fill(0x2a), // random
]);

/** Opens `STALLED` sockets that send `payload` and then nothing; resolves with their report. */
async function stallWave(port: number, payload: string | Uint8Array): Promise<StallReport> {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const driver = startDriver("stall", {
    port,
    count: STALLED,
    payload: btoa(String.fromCharCode(...bytes)),
    maxMs: 30_000,
  });
  await driver.waitForLine("READY ", 20_000);
  return await driver.report<StallReport>(30_000);
}

function assertDroppedOnTime(report: StallReport, what: string, answer: string): void {
  console.log(`${what} on ${RUNTIME}: ${JSON.stringify(report)}`);
  assert.equal(report.error, undefined);
  assert.equal(report.count, STALLED);
  assert.equal(report.closed, STALLED, `the server closed every socket (${what})`);
  assert.deepEqual(Object.keys(report.answers), [answer], `what ${what} were answered`);
  assert.ok(
    report.minOpenMs >= 0.8 * TIMEOUT,
    `${what}: a socket was closed after ${report.minOpenMs} ms, before the ${TIMEOUT} ms timeout`,
  );
  assert.ok(
    report.maxOpenMs <= 2 * TIMEOUT,
    `${what}: a socket was still open after ${report.maxOpenMs} ms (timeout ${TIMEOUT} ms)`,
  );
}

/** A client that sends a message every 50 ms and counts the echoes, until `stop()`. */
async function keepEchoing(url: string, caCerts?: string[]) {
  const waiting = new Set<string>();
  let sent = 0;
  let unexpected = 0;
  const ws = await connect(url, {
    timeout: 10_000,
    tls: caCerts === undefined ? undefined : { caCerts },
    websocket: {
      message(_ws, message) {
        if (!waiting.delete(String(message))) unexpected++;
      },
    },
  });
  const timer = setInterval(() => {
    const message = `echo ${sent++}`;
    waiting.add(message);
    ws.send(message);
  }, 50);
  return {
    async stop() {
      clearInterval(timer);
      for (let i = 0; i < 100 && waiting.size > 0; i++) await sleep(50);
      const result = { sent, unanswered: waiting.size, unexpected, open: ws.readyState === 1 };
      ws.close();
      await ws.closed;
      return result;
    },
  };
}

describe("slowloris against TLS and request bodies", () => {
  after(() => killChildren());

  test(
    `${STALLED} silent and ${STALLED} half-ClientHello sockets to wss:// are closed at handshakeTimeout`,
    {
      timeout: 90_000,
    },
    async () => {
      const server = await startServerProcess({ tls: TLS, handshakeTimeout: TIMEOUT }, 80_000);
      const pid = server.child.process.pid!;
      const echo = await keepEchoing(`wss://127.0.0.1:${server.port}/`, [CA]);
      const before = await settledOpenFiles(pid);

      assertDroppedOnTime(await stallWave(server.port, ""), "silent TLS sockets", "(nothing)");
      assertDroppedOnTime(
        await stallWave(server.port, HALF_CLIENT_HELLO),
        "half ClientHellos",
        "(nothing)",
      );

      const now = await descriptorsBackTo(pid, before);
      const echoes = await echo.stop();
      assert.deepEqual(echoes, { sent: echoes.sent, unanswered: 0, unexpected: 0, open: true });
      assert.ok(echoes.sent >= 20, `the client echoed only ${echoes.sent} times meanwhile`);
      assert.equal(now, before, "the server's open descriptors came back");
      assert.equal(server.child.stderr(), "", "the server reported nothing");
      server.child.kill();
    },
  );

  test(`${STALLED} requests whose body never comes get 408 at bodyTimeout`, {
    timeout: 90_000,
  }, async () => {
    // handshakeTimeout is long: the head is complete, so only bodyTimeout can close these.
    const server = await startServerProcess(
      { handshakeTimeout: 30_000, bodyTimeout: TIMEOUT },
      80_000,
    );
    const pid = server.child.process.pid!;
    const echo = await keepEchoing(`ws://127.0.0.1:${server.port}/`);
    const before = await settledOpenFiles(pid);

    const request = `POST / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n` +
      "Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\nab";
    assertDroppedOnTime(
      await stallWave(server.port, request),
      "bodies that never come",
      "HTTP/1.1 408 Request Timeout",
    );

    const now = await descriptorsBackTo(pid, before);
    const echoes = await echo.stop();
    assert.deepEqual(echoes, { sent: echoes.sent, unanswered: 0, unexpected: 0, open: true });
    assert.ok(echoes.sent >= 10, `the client echoed only ${echoes.sent} times meanwhile`);
    assert.equal(now, before, "the server's open descriptors came back");
    assert.equal(server.child.stderr(), "", "the server reported nothing");
    server.child.kill();
  });
});

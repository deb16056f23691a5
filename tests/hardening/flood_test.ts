/**
 * Flood: a client (in a Node process) sends 1 KiB messages as fast as the socket takes them and
 * never reads, so the server's echoes pile up. The server (its own process, this test's runtime)
 * must keep its send buffer within `backpressureLimit` (dropping echoes, or closing the flooder
 * with `closeOnBackpressureLimit`), keep its RSS within RSS_BOUND of the start, and keep echoing
 * for another client the whole time.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { RawClient } from "../helpers/raw_client.ts";
import { RUNTIME } from "../helpers/servers.ts";
import { clientFrame, OP, text } from "../helpers/wire.ts";
import { mib, type ServerStats, startDriver, startServerProcess } from "./_processes.ts";
import { killChildren } from "../helpers/processes.ts";

const LIMIT = 1024 * 1024;
const PAYLOAD = 1024;
const SECONDS = 3;
/** Over the limit by at most one message (its frame header too) and a close frame. */
const SLACK = PAYLOAD + 14 + 127;
/** Peak RSS during the flood minus RSS at the start (after GC). */
const RSS_BOUND = 96 * 1024 * 1024;

interface FloodReport {
  bytesSent: number;
  ended: boolean;
  error: string | null;
}

/** Floods for SECONDS while another client echoes; returns what was measured. */
async function flood(options: Record<string, unknown>) {
  const server = await startServerProcess({ backpressureLimit: LIMIT, ...options }, 60_000);
  try {
    const start = await server.stats();
    const other = await RawClient.open(server.port);
    const driver = startDriver("flood", {
      port: server.port,
      seconds: SECONDS,
      payloadSize: PAYLOAD,
      maxMs: 30_000,
    });
    await driver.waitForLine("READY", 20_000);
    let peak: ServerStats = start;
    let echoes = 0;
    const until = Date.now() + SECONDS * 1000;
    while (Date.now() < until) {
      other.write(clientFrame(OP.text, `ping ${echoes}`));
      const echo = await other.nextFrame(10_000);
      assert.equal(text(echo.payload), `ping ${echoes}`, "the other client keeps its echoes");
      echoes++;
      if (echoes % 10 === 0) {
        const now = await server.stats();
        if (now.rss > peak.rss) peak = now;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const report = await driver.report<FloodReport>(20_000);
    const end = await server.stats();
    other.destroy();
    return { start, peak, end, echoes, report };
  } finally {
    server.child.kill();
  }
}

describe("flood", () => {
  after(() => killChildren());

  test("a client that never reads: echoes dropped at backpressureLimit", {
    timeout: 60_000,
  }, async () => {
    const { start, peak, end, echoes, report } = await flood({});
    console.log(
      `flood (drop) on ${RUNTIME}: flooder sent ${mib(report.bytesSent)}; server sends ` +
        `${JSON.stringify(end.statuses)}, largest buffer ${mib(end.maxBuffered)}; RSS ` +
        `${mib(start.rss)} → peak ${mib(peak.rss)}; other client ${echoes} echoes`,
    );
    assert.ok(end.statuses.dropped > 0, "echoes beyond the limit were dropped");
    assert.ok(end.statuses.backpressure > 0, "send said backpressure before dropping");
    // One message may go over the limit ("backpressure"); the next ones are dropped.
    assert.ok(end.maxBuffered <= LIMIT + SLACK, `buffered ${end.maxBuffered}`);
    assert.ok(peak.rss - start.rss < RSS_BOUND, `RSS grew by ${mib(peak.rss - start.rss)}`);
    assert.ok(echoes > 0);
  });

  test("a client that never reads: closed with closeOnBackpressureLimit", {
    timeout: 60_000,
  }, async () => {
    const { start, peak, end, echoes, report } = await flood({
      closeOnBackpressureLimit: true,
      closeTimeout: 500,
    });
    console.log(
      `flood (close) on ${RUNTIME}: flooder sent ${mib(report.bytesSent)}, ended ` +
        `${report.ended} (${report.error}); server sends ${JSON.stringify(end.statuses)}, ` +
        `closes ${JSON.stringify(end.closeCodes)}; RSS ${mib(start.rss)} → peak ` +
        `${mib(peak.rss)}; other client ${echoes} echoes`,
    );
    assert.equal(report.ended, true, "the flooder was disconnected");
    assert.equal(end.statuses.dropped, 1, "the first message over the limit closed it");
    assert.ok(end.maxBuffered <= LIMIT + SLACK, `buffered ${end.maxBuffered}`);
    // It never reads, so the 1008 close frame cannot reach it: dropped at the close timeout.
    assert.deepEqual(end.closeCodes, { 1006: 1 });
    assert.equal(end.connectionCount, 1, "only the other client is left");
    assert.ok(peak.rss - start.rss < RSS_BOUND, `RSS grew by ${mib(peak.rss - start.rss)}`);
  });
});

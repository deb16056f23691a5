/**
 * Load: 5,000 concurrent connections each echo 100 messages, in two identical rounds. The server
 * runs in its own process (this test's runtime, garbage collector exposed) and the clients in a
 * Node process, so the server holds only its own 5,000 sockets and its memory is measured alone.
 *
 * Every message must come back exactly once and in order, every close be answered. After each
 * round the server must count no connections, hold no more file descriptors than at the start (give or take the runtime's own few), and
 * its JS heap (after GC) be back within HEAP_BOUND of the start. RSS: on Bun it must be back
 * within RSS_BOUND of the start; Deno's native allocator keeps freed socket buffers (RSS stays
 * up while heap, array buffers and descriptors are back), so on both runtimes the second round
 * must not grow RSS by more than RSS_BOUND over the first: memory that leaks grows per round.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mib, type ServerStats, startDriver, startServerProcess } from "./_processes.ts";
import { killChildren } from "../helpers/processes.ts";
import { RUNTIME } from "../helpers/servers.ts";

const CONNECTIONS = 5_000;
const MESSAGES = 100;
const ROUNDS = 2;
/** JS heap after a round minus at the start (both after GC). */
const HEAP_BOUND = 16 * 1024 * 1024;
/** RSS growth allowed: Bun, after a round vs the start; both runtimes, round 2 vs round 1. */
const RSS_BOUND = 48 * 1024 * 1024;

interface LoadReport {
  connections: number;
  failureCount: number;
  failures: string[];
  received: number;
  expected: number;
  outOfOrder: number;
  extra: number;
  closeCodes: Record<string, number>;
  openedMs: number;
  echoMs: number;
}

describe("load", () => {
  after(() => killChildren());

  test(`${CONNECTIONS} connections × ${MESSAGES} messages, ${ROUNDS} rounds`, {
    timeout: 200_000,
  }, async () => {
    const server = await startServerProcess({ closeTimeout: 5_000 });
    try {
      const start = await server.stats();
      assert.equal(start.connectionCount, 0);
      const afterRounds: ServerStats[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const before = await server.stats();
        const driver = startDriver("load", {
          port: server.port,
          connections: CONNECTIONS,
          messages: MESSAGES,
          concurrency: 100,
          maxMs: 90_000,
        });
        await driver.waitForLine("READY ", 80_000);
        const open = await server.stats();
        assert.equal(open.connectionCount, CONNECTIONS, "every connection is open at once");
        driver.tell("go");
        const result = await driver.report<LoadReport>(90_000);
        assert.equal(result.failureCount, 0, `handshakes failed: ${result.failures.join("; ")}`);
        assert.equal(result.connections, CONNECTIONS);
        assert.equal(result.received, CONNECTIONS * MESSAGES, "every message came back");
        assert.equal(result.outOfOrder, 0, "in order");
        assert.equal(result.extra, 0, "exactly once");
        assert.deepEqual(result.closeCodes, { 1000: CONNECTIONS }, "each close was answered");

        let end = await server.stats();
        const deadline = Date.now() + 30_000;
        while (end.connectionCount !== 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          end = await server.stats();
        }
        afterRounds.push(end);
        console.log(
          `load on ${RUNTIME}, round ${round}: handshakes ${result.openedMs} ms, echo ` +
            `${result.echoMs} ms; server RSS ${mib(before.rss)} before, ${mib(open.rss)} with ` +
            `${CONNECTIONS} open (+${
              ((open.rss - before.rss) / CONNECTIONS / 1024).toFixed(1)
            } KiB ` +
            `each), ${mib(end.rss)} after; heap ${mib(start.heapUsed)} → ${mib(open.heapUsed)} → ` +
            `${mib(end.heapUsed)}; open files ${start.openFiles} → ${open.openFiles} → ` +
            `${end.openFiles} (gc: ${end.gc})`,
        );
        assert.equal(end.connectionCount, 0, "no connection left on the server");
        assert.equal(end.closeCodes["1000"], round * CONNECTIONS, "the server saw each 1000");
        // A few descriptors of the runtime's own may open lazily; a leak would be thousands.
        assert.ok(end.openFiles <= start.openFiles + 16, `${end.openFiles} files open after`);
        assert.ok(
          end.heapUsed - start.heapUsed < HEAP_BOUND,
          `heap grew by ${mib(end.heapUsed - start.heapUsed)} (bound ${mib(HEAP_BOUND)})`,
        );
        if (RUNTIME === "bun") {
          assert.ok(
            end.rss - start.rss < RSS_BOUND,
            `RSS grew by ${mib(end.rss - start.rss)} (bound ${mib(RSS_BOUND)})`,
          );
        }
      }
      const growth = afterRounds[ROUNDS - 1].rss - afterRounds[0].rss;
      assert.ok(
        growth < RSS_BOUND,
        `RSS grew by ${mib(growth)} from round 1 to round ${ROUNDS} (bound ${mib(RSS_BOUND)})`,
      );
    } finally {
      server.child.kill();
    }
  });
});

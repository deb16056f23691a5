/**
 * examples/cluster.ts as a user runs it (`deno run -A examples/cluster.ts examples/echo.ts`, or
 * `bun run ...`), on the test's runtime, with WORKERS=2: both workers take connections (which
 * process holds each one is read from the kernel's tables, not from the servers); a worker killed
 * with SIGKILL is restarted under a new pid and serves again; SIGTERM, or SIGINT, to the launcher
 * closes every client with 1001, the launcher exits 0, and no worker is left running.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { BIN, type Child, freePort, killChildren, startChild } from "../helpers/processes.ts";
import { RUNTIME } from "../helpers/servers.ts";
import { type Client, closeClients, connectionsByPid, isRunning, openClients } from "./_clients.ts";
import { within } from "../helpers/timing.ts";

const COMMAND: [string, string[]] = RUNTIME === "deno"
  ? [BIN.deno, ["run", "-A", "examples/cluster.ts", "examples/echo.ts"]]
  : RUNTIME === "bun"
  ? [BIN.bun, ["run", "examples/cluster.ts", "examples/echo.ts"]]
  : [BIN.node, ["examples/cluster.ts", "examples/echo.ts"]];
/** Per step; a runtime starting cold is the slow part. */
const STEP = 30_000;
const CONNECTIONS = 40;
const WORKER_STARTED = /worker (\d+) started, pid (\d+)/g;

/** Every launcher started, to find its workers afterwards. */
const launchers: Child[] = [];

after(async () => {
  await killChildren();
  // A launcher killed (at its deadline, or above) leaves its workers running: nothing tells them.
  for (const launcher of launchers) {
    for (const [, , pid] of launcher.stdout().matchAll(WORKER_STARTED)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // Gone already, as it should be.
      }
    }
  }
});

interface Cluster {
  launcher: Child;
  port: number;
  /** Worker number → pid, as the launcher printed them. */
  pids: Map<number, number>;
}

async function startCluster(): Promise<Cluster> {
  const port = await freePort();
  const launcher = startChild(COMMAND[0], COMMAND[1], {
    deadlineMs: 6 * STEP,
    env: { WORKERS: "2", PORT: String(port) },
  });
  launchers.push(launcher);
  await launcher.waitFor(
    new RegExp(`\\[cluster\\] 2 workers listening on ws://127\\.0\\.0\\.1:${port}/`),
    STEP,
  );
  const pids = new Map<number, number>();
  for (const [, id, pid] of launcher.stdout().matchAll(WORKER_STARTED)) {
    pids.set(Number(id), Number(pid));
  }
  assert.equal(pids.size, 2, launcher.stdout());
  return { launcher, port, pids };
}

/** Opens `count` clients and checks each one echoes. */
async function echoingClients(port: number, count: number): Promise<Client[]> {
  const clients = await openClients(`ws://127.0.0.1:${port}/`, count, STEP);
  await Promise.all(clients.map(async (client, i) => {
    client.ws.send(`hello ${i}`);
    assert.equal(await client.next(STEP), `hello ${i}`);
  }));
  return clients;
}

/** Sends `signal` to the launcher; every client must get 1001, the launcher exit 0, workers go. */
async function stopsGracefully(
  cluster: Cluster,
  clients: Client[],
  signal: "SIGTERM" | "SIGINT",
): Promise<void> {
  cluster.launcher.signal(signal);
  const closes = await within(Promise.all(clients.map((c) => c.closed)), STEP, "the 1001s");
  for (const close of closes) {
    assert.deepEqual(close, { code: 1001, reason: "server shutting down", wasClean: true });
  }
  const exit = await within(cluster.launcher.exited, STEP, "the launcher to exit");
  assert.deepEqual(exit, { code: 0, signal: null }, cluster.launcher.stderr());
  assert.match(
    cluster.launcher.stdout(),
    new RegExp(`\\[cluster\\] ${signal}: stopping 2 workers`),
  );
  assert.match(cluster.launcher.stdout(), /\[cluster\] all workers stopped/);
  for (const pid of cluster.pids.values()) {
    assert.ok(!isRunning(pid), `worker ${pid} still running after the launcher exited`);
  }
}

describe(`examples/cluster.ts on ${RUNTIME}`, () => {
  test("both workers serve; a killed worker comes back; SIGTERM stops all", {
    timeout: 8 * STEP,
  }, async () => {
    const cluster = await startCluster();
    const { port, pids, launcher } = cluster;
    const [first, second] = [pids.get(1)!, pids.get(2)!];
    const clients = await echoingClients(port, CONNECTIONS);
    const held = connectionsByPid(port, [first, second]);
    assert.ok(held.get(first)! > 0 && held.get(second)! > 0, JSON.stringify([...held]));
    assert.equal(held.get(first)! + held.get(second)!, CONNECTIONS);

    // The clients of the killed worker lose their connections; the other worker's carry on.
    process.kill(first, "SIGKILL");
    const restarted = await launcher.waitFor(
      new RegExp(`\\[cluster\\] worker 1 started, pid (?!${first}\\b)(\\d+)`),
      STEP,
    );
    const replacement = Number(restarted[1]);
    pids.set(1, replacement);
    const states = await within(
      Promise.all(clients.map((c) =>
        Promise.race([
          c.closed,
          // Echoes only if its worker is alive.
          (c.ws.send("still there?"), c.next(STEP).then(() => "open")),
        ]).catch(() => c.closed)
      )),
      2 * STEP,
      "each old client to echo or close",
    );
    const open = clients.filter((_, i) => states[i] === "open");
    const lost = states.filter((s) => s !== "open");
    assert.equal(open.length, held.get(second), JSON.stringify(states));
    for (const state of lost) {
      // Dropped without a close frame: 1006, which Deno's WebSocket reports as 0 after a reset.
      const { code, wasClean } = state as { code: number; wasClean: boolean };
      assert.ok(!wasClean && (code === 1006 || code === 0), JSON.stringify(state));
    }

    await launcher.waitFor(new RegExp(`\\[worker 1, pid ${replacement}\\] echo server on`), STEP);
    const fresh = await echoingClients(port, CONNECTIONS);
    const heldNow = connectionsByPid(port, [first, replacement, second]);
    assert.equal(heldNow.get(first), 0);
    assert.ok(heldNow.get(replacement)! > 0, JSON.stringify([...heldNow]));
    assert.equal(heldNow.get(replacement)! + heldNow.get(second)!, open.length + CONNECTIONS);

    await stopsGracefully(cluster, [...open, ...fresh], "SIGTERM");
  });

  test("SIGINT (Ctrl-C) stops all gracefully too", { timeout: 4 * STEP }, async () => {
    const cluster = await startCluster();
    const clients = await echoingClients(cluster.port, 10);
    try {
      await stopsGracefully(cluster, clients, "SIGINT");
    } finally {
      await closeClients(clients, STEP).catch(() => {});
    }
  });
});

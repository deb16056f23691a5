/**
 * Child processes for the hardening tests: the load driver (Node) and the measured server (the
 * test's own runtime), and the echo example. They are tests/helpers/processes.ts children: each
 * is killed by its own deadline and by `killChildren` (call it from `after`), whatever happens.
 * @module
 */

import {
  type Child,
  exampleCommand,
  scriptCommand,
  startChild,
  startListener,
} from "../helpers/processes.ts";
import { readdirSync } from "node:fs";
import { RUNTIME } from "../helpers/servers.ts";
import { sleep } from "../helpers/timing.ts";

/** Starts the Node load driver in `mode` with `config` (it exits by itself after `maxMs`). */
export function startDriver(mode: string, config: Record<string, unknown>): Child {
  const maxMs = (config.maxMs as number | undefined) ?? 60_000;
  const [command, args] = scriptCommand("node", "tests/hardening/_driver.mjs", [
    mode,
    JSON.stringify({ ...config, maxMs }),
  ]);
  return startChild(command, args, { deadlineMs: maxMs + 5_000, stdin: true });
}

/** Server statistics, as tests/hardening/_server.ts reports them. */
export interface ServerStats {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  openFiles: number;
  connectionCount: number;
  statuses: { sent: number; backpressure: number; dropped: number };
  maxBuffered: number;
  drains: number;
  closeCodes: Record<string, number>;
  gc: boolean;
}

/**
 * An edgews echo server in a child process on this test's runtime, with `options`; with
 * `descriptorLimit`, the process may open at most that many files (`ulimit -n`, soft and hard).
 */
export async function startServerProcess(
  options: Record<string, unknown>,
  maxMs = 120_000,
  descriptorLimit?: number,
): Promise<{ child: Child; port: number; stats(): Promise<ServerStats> }> {
  let [command, args] = scriptCommand(
    RUNTIME,
    "tests/hardening/_server.ts",
    [JSON.stringify({ ...options, maxMs })],
    { exposeGc: true },
  );
  if (descriptorLimit !== undefined) {
    // The shell sets the limit and becomes the runtime (exec): the child's pid is the server's.
    args = ["-c", `ulimit -n ${descriptorLimit} && exec "$0" "$@"`, command, ...args];
    command = "sh";
  }
  const { child, port } = await startListener(command, args, { deadlineMs: maxMs + 5_000 });
  return {
    child,
    port,
    async stats() {
      const response = await fetch(`http://127.0.0.1:${port}/stats`);
      return await response.json() as ServerStats;
    },
  };
}

/** examples/echo.ts on this test's runtime, listening on `port`. */
export function startEchoExample(port: number, deadlineMs: number): Child {
  const [command, args] = exampleCommand("examples/echo.ts");
  return startChild(command, args, { deadlineMs, env: { PORT: String(port) } });
}

/** Open descriptors of a process (Linux /proc). */
export function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * A process's descriptors once they have stayed the same for a second (up to 5 s): Deno opens a
 * socket pair of its own about half a second after it starts, which is not what is measured.
 */
export async function settledOpenFiles(pid: number): Promise<number> {
  let count = openFiles(pid);
  for (let same = 0, i = 0; same < 5 && i < 25; i++) {
    await sleep(200);
    const now = openFiles(pid);
    same = now === count ? same + 1 : 0;
    count = now;
  }
  return count;
}

/** Waits (up to 5 s) for a process's descriptors to come down to `before`; returns the count. */
export async function descriptorsBackTo(pid: number, before: number): Promise<number> {
  let now = openFiles(pid);
  for (let i = 0; i < 50 && now > before; i++) {
    await sleep(100);
    now = openFiles(pid);
  }
  return now;
}

/** MiB, for messages. */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

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
import { RUNTIME } from "../helpers/servers.ts";

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

/** An edgews echo server in a child process on this test's runtime, with `options`. */
export async function startServerProcess(
  options: Record<string, unknown>,
  maxMs = 120_000,
): Promise<{ child: Child; port: number; stats(): Promise<ServerStats> }> {
  const [command, args] = scriptCommand(
    RUNTIME,
    "tests/hardening/_server.ts",
    [JSON.stringify({ ...options, maxMs })],
    { exposeGc: true },
  );
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

/** MiB, for messages. */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

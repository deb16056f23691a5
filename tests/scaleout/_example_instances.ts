/**
 * The broadcast and chat examples as instances of one application: each a child process started
 * the way the README says (`deno run --allow-net --allow-env …` or `bun run …`) with PORT=0 and
 * REDIS_URL, so that they share a test's own redis-server. Tracked children: `killChildren`
 * (from `after`) stops them.
 * @module
 */

import { type Child, startExample } from "../helpers/processes.ts";
import type { Runtime } from "../helpers/servers.ts";

/** One running example process. */
export interface Instance {
  child: Child;
  runtime: Runtime;
  port: number;
}

/**
 * Starts `script` on `runtime` with REDIS_URL=`redisUrl` and waits for the line naming its URL.
 * The process is SIGKILLed after `deadlineMs` at the latest.
 */
export async function startInstance(
  script: string,
  runtime: Runtime,
  redisUrl: string,
  deadlineMs: number,
): Promise<Instance> {
  const { child, port } = await startExample(script, deadlineMs, {
    runtime,
    env: { REDIS_URL: redisUrl },
  });
  return { child, runtime, port };
}

/**
 * The processes of one scale-out measurement: the suite's own redis-server, and one or two
 * instances of a server linked through it.
 *
 * @module
 */

import { ROOT } from "../lib/paths.ts";
import { freePort, Proc, tryRun } from "../lib/processes.ts";
import type { Topology } from "../lib/results.ts";
import { SERVERS } from "../lib/servers.ts";
import { PINNING } from "./scaleout_plan.ts";

/** A redis-server on a free loopback port, with persistence off. */
export class Redis {
  proc: Proc = new Proc("redis-server");
  port = 0;

  /** The URL the servers connect to. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it (on both CPUs until {@link pin} moves it). */
  async start(): Promise<void> {
    this.port = await freePort();
    await this.proc.start(
      [
        ...["redis-server", "--port", String(this.port), "--bind", "127.0.0.1"],
        ...["--save", "", "--appendonly", "no", "--daemonize", "no"],
      ],
      "0,1",
      {},
      /Ready to accept connections/,
      10000,
    );
  }

  /** Moves every thread of the running redis-server to `cpus`. */
  async pin(cpus: string): Promise<void> {
    await tryRun(["taskset", "-a", "-p", "-c", cpus, String(this.proc.pid)], "");
  }
}

/** One or two instances of a server, with or without Redis. */
export class Deployment {
  instances: Proc[] = [];
  ports: number[] = [];

  /** `redis` is required for the topologies with Redis. */
  constructor(readonly server: string, readonly topology: Topology, readonly redis?: Redis) {}

  /** Starts the instances, each pinned to its CPU; resolves once all listen. */
  async start(): Promise<void> {
    const pin = PINNING[this.topology];
    const cpus = this.topology === "2r" ? [pin.a, pin.b] : [pin.a];
    for (const [i, cpu] of cpus.entries()) {
      const port = await freePort();
      const env: Record<string, string> = { PORT: String(port) };
      if (this.topology !== "1") env.REDIS_URL = this.redis!.url;
      const proc = new Proc(`${this.server} instance ${"AB"[i]}`);
      this.instances.push(proc);
      this.ports.push(port);
      await proc.start(SERVERS[this.server].broadcast, cpu, env, /(^|\n)listening \d+/);
    }
  }

  /** Whether every instance is still running. */
  get alive(): boolean {
    return this.instances.every((p) => p.alive);
  }

  /** Stops every instance. */
  async stop(): Promise<void> {
    await Promise.all(this.instances.map((p) => p.stop()));
  }
}

/** Why edgews cannot join a topology with Redis, or undefined if it can. */
export function edgewsBackplaneMissing(): string | undefined {
  try {
    Deno.statSync(`${ROOT}/redis.ts`);
    return undefined;
  } catch {
    return "redis.ts (RedisBackplane) does not exist yet";
  }
}

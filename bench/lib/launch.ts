/**
 * The servers of the single-instance suites: each started pinned to CPU 0 (the load generator
 * gets CPU 1) on a free port, skipped for the rest of the run once it fails to start (so that one
 * broken server does not cost a timeout in every round), and taken through the rounds in turn.
 *
 * @module
 */

import type { Options } from "./args.ts";
import { freePort, Proc } from "./processes.ts";
import { DEFLATE_ECHO } from "./deflate_servers.ts";
import { SERVERS } from "./servers.ts";

/** A started server: its process and the port it listens on. */
export type Server = { proc: Proc; port: number; name: string; variant: Variant };
/** Which of a server's programs: the echo server, the fan-out one, or the compressing echo one. */
export type Variant = "echo" | "broadcast" | "deflate";

/** Servers that failed to start (key: name, with " (broadcast)" etc. for the others) and why. */
export const skipped: Map<string, string> = new Map();

/** Starts server `name`; resolves once it prints `listening <port>`. */
export async function startServer(name: string, variant: Variant = "echo"): Promise<Server> {
  const port = await freePort();
  const spec = SERVERS[name];
  const cmd = variant === "broadcast"
    ? spec.broadcast
    : variant === "deflate"
    ? DEFLATE_ECHO[name]
    : spec.echo;
  if (!cmd) throw new Error(`${name} has no ${variant} server`);
  const proc = new Proc(name);
  await proc.start(cmd, "0", { PORT: String(port) }, /(^|\n)listening \d+/);
  return { proc, port, name, variant };
}

/** {@link startServer}, or undefined (recorded in {@link skipped}) if it fails or failed before. */
export async function startOrSkip(
  name: string,
  variant: Variant = "echo",
): Promise<Server | undefined> {
  const key = variant === "echo" ? name : `${name} (${variant})`;
  if (skipped.has(key)) return undefined;
  try {
    return await startServer(name, variant);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    skipped.set(key, msg);
    console.log(`  SKIP ${key}: server failed to start; skipping it for the rest of the run.`);
    console.log(`    ${msg}`);
    return undefined;
  }
}

/** How {@link eachServer} goes through the servers. */
export type Schedule = {
  variant: Variant;
  /** Measured one after the other on one start of the server; [0] for suites without sizes. */
  sizes: number[];
  /** Start each round with the next server, so that no server always runs first. */
  rotate: boolean;
};

/**
 * Calls `measure` for every round, server of `o.servers` and size: each server is started once
 * per round (and again if it dies between sizes, which costs only that size) and stopped after.
 */
export async function eachServer(
  o: Options,
  schedule: Schedule,
  measure: (srv: Server, round: number, size: number) => Promise<void>,
): Promise<void> {
  const { variant, sizes, rotate } = schedule;
  for (let round = 1; round <= o.rounds; round++) {
    const shift = rotate ? round - 1 : 0;
    const order = o.servers.map((_, i) => o.servers[(i + shift) % o.servers.length]);
    for (const name of order) {
      let srv = await startOrSkip(name, variant);
      if (!srv) continue;
      try {
        for (const size of sizes) {
          if (!srv.proc.alive) {
            console.log(`  ${name} died; restarting it`);
            srv = await startOrSkip(name, variant);
            if (!srv) break;
          }
          await measure(srv, round, size);
        }
      } finally {
        await srv?.proc.stop();
      }
    }
  }
}

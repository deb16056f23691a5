/**
 * Our raw-TCP load generator (bench/loadgen/loadgen.c): built with gcc on first use, run pinned
 * to its own CPUs, its one-line JSON result parsed.
 *
 * @module
 */

import { LOADGEN, LOADGEN_SRC, ROOT } from "./paths.ts";
import { run } from "./processes.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** Compiles the load generator unless the binary is newer than its source. */
export async function buildLoadgen(): Promise<void> {
  let fresh = false;
  try {
    const bin = await Deno.stat(LOADGEN);
    const src = await Deno.stat(LOADGEN_SRC);
    fresh = (bin.mtime?.getTime() ?? 0) >= (src.mtime?.getTime() ?? 0);
  } catch {
    fresh = false;
  }
  if (fresh) return;
  await Deno.mkdir(`${ROOT}/bench/.build`, { recursive: true });
  console.log("building load generator: gcc -O2 bench/loadgen/loadgen.c");
  await run(["gcc", "-O2", "-Wall", "-o", LOADGEN, LOADGEN_SRC]);
}

/**
 * Runs the load generator with `args` on CPUs `cpus`, killed after `timeoutMs`. Resolves with the
 * last JSON line it printed, or `{ error }` if there is none.
 */
export async function loadgen(args: string[], cpus: string, timeoutMs: number): Promise<Json> {
  const child = new Deno.Command("taskset", {
    args: ["-c", cpus, LOADGEN, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout).trim();
  const line = text.split("\n").findLast((l) => l.startsWith("{"));
  if (!line) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" / ");
    return { error: `loadgen produced no result: ${err}` };
  }
  return JSON.parse(line);
}

/**
 * Why a broadcast run (`loadgen broadcast`) is not valid, or undefined if it is. A server may drop
 * a delivery to a subscriber over its backpressure limit; more than 0.1% missing means the
 * numbers are not comparable.
 */
export function broadcastProblem(r: Json, subs: number): string | undefined {
  if (r.error) return r.error;
  if (r.subscribers_alive !== subs) return `${subs - r.subscribers_alive} subscribers died`;
  if (!r.publisher_alive) return "the publisher connection died";
  if (r.errors > 0) return `${r.errors} errors`;
  if (r.bad_len > 0) return `${r.bad_len} deliveries with the wrong length`;
  if (r.deliveries === 0) return "no deliveries";
  if (r.missing > 0.001 * r.deliveries) return `${r.missing} deliveries missing`;
  return undefined;
}

/**
 * A note for the console when a valid run's numbers may say more about the machine than about
 * the server: the load generator was the bottleneck, or the server did not get its core.
 */
export function cpuNote(r: Json): string {
  return r.loadgen_cpu > 0.95
    ? "  (load generator CPU-bound!)"
    : r.server_cpu < 0.85
    ? "  (server below 85% CPU: contention?)"
    : "";
}

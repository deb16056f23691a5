/**
 * What the machine is and how busy it is: the versions recorded with every result, and the wait
 * for other work (tests, builds) to finish before each measurement.
 *
 * @module
 */

import { fmtNum } from "./format.ts";
import { BUN, DENO, NODE, ROOT } from "./paths.ts";
import { sleep, tryRun } from "./processes.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** The version in node_modules/`name`/package.json, or `fallback` if it is not installed. */
export async function packageVersion(name: string, fallback = "unknown"): Promise<string> {
  try {
    return JSON.parse(await Deno.readTextFile(`${ROOT}/node_modules/${name}/package.json`))
      .version;
  } catch {
    return fallback;
  }
}

/** CPU, kernel and runtime versions, saved with the results and printed in the reports. */
export async function machineInfo(): Promise<Json> {
  const lscpu = await tryRun(["lscpu"]);
  const model = /Model name:\s*(.+)/.exec(lscpu)?.[1]?.trim() ?? "unknown";
  return {
    date: new Date().toISOString(),
    nproc: Number(await tryRun(["nproc"])),
    cpu_model: model,
    kernel: await tryRun(["uname", "-r"]),
    deno: (await tryRun([DENO, "--version"])).split("\n")[0],
    bun: await tryRun([BUN, "--version"]),
    node: await tryRun([NODE, "--version"]),
    ws: await packageVersion("ws"),
    gcc: (await tryRun(["gcc", "--version"])).split("\n")[0],
    loadavg_at_start: (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" "),
  };
}

/** Fraction of all CPUs busy over `ms` (from /proc/stat), 0..1. */
async function machineBusy(ms = 400): Promise<number> {
  const read = async () => {
    const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3] + (v[4] ?? 0);
    return { idle, total: v.reduce((a, b) => a + b, 0) };
  };
  const a = await read();
  await sleep(ms);
  const b = await read();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
}

// Say "waiting" once per busy spell, not before every measurement of it.
let idleWaitNoted = false;

/**
 * Other work on this 2-core machine (tests, builds) distorts results: before each measurement,
 * waits (up to `maxSeconds`) until less than 10% of the CPUs are busy. Resolves with the
 * fraction busy when it stopped waiting.
 */
export async function waitIdle(maxSeconds: number): Promise<number> {
  const deadline = Date.now() + maxSeconds * 1000;
  let busy = await machineBusy();
  while (busy > 0.1 && Date.now() < deadline) {
    if (!idleWaitNoted) {
      console.log(
        `  (machine ${fmtNum(busy * 100)}% busy with other work; waiting for it to idle)`,
      );
      idleWaitNoted = true;
    }
    await sleep(1000);
    busy = await machineBusy();
  }
  if (busy > 0.1) console.log(`  (machine still ${fmtNum(busy * 100)}% busy; measuring anyway)`);
  idleWaitNoted = busy > 0.1 ? idleWaitNoted : false;
  return busy;
}

/**
 * Other work on the machine while a run was measured, in CPUs: busy time machine-wide (the load
 * generator's `machine_busy_cpus`) minus what the servers, the load generator and Redis used.
 * (Softirq time, the loopback network stack, is charged to the processes it interrupts, so it is
 * in both terms.) Null when the run did not measure the machine.
 */
export function otherCpu(r: Json): number | null {
  if (typeof r.machine_busy_cpus !== "number" || r.machine_busy_cpus < 0) return null;
  const ours = [r.server_cpu, r.server2_cpu, r.loadgen_cpu, r.redis_cpu]
    .filter((x) => typeof x === "number" && x > 0)
    .reduce((a, b) => a + b, 0);
  return Math.max(0, r.machine_busy_cpus - ours);
}

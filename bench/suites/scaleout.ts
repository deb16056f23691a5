/**
 * The scale-out suite (`--suites scaleout`): fan-out across server instances linked by Redis
 * pub/sub, edgews (`serve({ backplane: new RedisBackplane(...) })`, on Deno and on Bun) against
 * Socket.IO with `@socket.io/redis-adapter` on Node.
 *
 * Each server goes through the topologies of scaleout_plan.ts, measured with the load generator's
 * broadcast mode, and on two instances also the cross-instance latency: publishes at a fixed
 * moderate rate, each stamped with its CLOCK_MONOTONIC send time, every delivery's latency
 * recorded by instance. A redis-server of the suite's own serves the whole suite and is stopped
 * at the end. The results are saved apart from the other suites' (results/scaleout.json), so that
 * a run of this suite alone leaves RESULTS.md as it is.
 *
 * @module
 */

import type { Options, ScaleoutOptions } from "../lib/args.ts";
import { fmtNum, fmtSize, pct } from "../lib/format.ts";
import { broadcastProblem, loadgen } from "../lib/loadgen.ts";
import { otherCpu, packageVersion, waitIdle } from "../lib/machine.ts";
import { stopAll, tryRun } from "../lib/processes.ts";
import type { Json, ScaleoutResults } from "../lib/results.ts";
import { SCALEOUT_ANCHOR, SERVERS } from "../lib/servers.ts";
import { median, preferClean } from "../lib/stats.ts";
import { Deployment, edgewsBackplaneMissing, Redis } from "./scaleout_deploy.ts";
import { CONTENDED_CPUS, MAX_ATTEMPTS, PINNING, TOPOLOGIES } from "./scaleout_plan.ts";

type Measured = { r: Json; other: number | null; contended: boolean; attempts: number };

/** Runs the load generator until a run is not contended (or MAX_ATTEMPTS are used up). */
async function measure(
  args: string[],
  d: Deployment,
  o: Options,
  timeoutMs: number,
): Promise<Measured> {
  let r: Json = {};
  let other: number | null = null;
  let attempts = 0;
  while (attempts < MAX_ATTEMPTS && d.alive) {
    attempts++;
    await waitIdle(o.idleWait);
    r = await loadgen(args, PINNING[d.topology].loadgen, timeoutMs);
    other = otherCpu(r);
    if (r.error || other === null || other <= CONTENDED_CPUS) break;
    console.log(
      `    (other processes used ${fmtNum(other, 2)} CPUs during the run; running it again)`,
    );
  }
  return { r, other, contended: other !== null && other > CONTENDED_CPUS, attempts };
}

function fanoutArgs(d: Deployment, size: number, subs: number): string[] {
  const args = ["broadcast", "--port", String(d.ports[0]), "--size", String(size)];
  args.push("--conns", String(subs), "--text", "--server-pid", String(d.instances[0].pid));
  args.push("--timeout", "30", "--machine-cpu");
  if (d.ports.length > 1) {
    args.push("--port2", String(d.ports[1]), "--server-pid2", String(d.instances[1].pid));
  }
  if (d.topology !== "1" && d.redis) args.push("--redis-pid", String(d.redis.proc.pid));
  if (d.server === SCALEOUT_ANCHOR) args.push("--socketio");
  return args;
}

/** The broadcast checks, and those only scale-out needs (two instances, time stamps). */
function problemOf(r: Json, subs: number): string | undefined {
  const base = broadcastProblem(r, subs);
  if (base) return base;
  if (r.to_publisher > 0) return `${r.to_publisher} deliveries to the publisher`;
  if (r.extra > 0) return `${r.extra} deliveries too many (duplicates?)`;
  if (r.bad_stamp > 0) return `${r.bad_stamp} deliveries without a readable time stamp`;
  return undefined;
}

async function versions(): Promise<Json> {
  const redis = await tryRun(["redis-server", "--version"], "");
  return {
    "redis-server": /v=(\S+)/.exec(redis)?.[1] ?? "unknown",
    "socket.io": await packageVersion("socket.io", "not installed"),
    "@socket.io/redis-adapter": await packageVersion("@socket.io/redis-adapter", "not installed"),
    redis: await packageVersion("redis", "not installed"),
    node: await tryRun(["node", "--version"], ""),
  };
}

/** Runs the suite with `o.scaleout`'s options and `o`'s rounds, warm-up and duration. */
export async function scaleoutSuite(o: Options): Promise<ScaleoutResults> {
  const so = o.scaleout;
  const latDuration = so.latDuration ?? 2 * o.duration;
  console.log(
    `\n== scaleout: ${so.subs} subscribers, ${so.window} broadcasts in flight, topologies ` +
      `${TOPOLOGIES.join(", ")}; latency at ${so.rate} publishes/s for ${latDuration} s; ` +
      `${o.warmup} s warm-up + ${o.duration} s, ${o.rounds} round(s) ==`,
  );
  const results: ScaleoutResults = {
    options: { ...so, rounds: o.rounds, warmup: o.warmup, duration: o.duration },
    versions: await versions(),
    pinning: PINNING,
    method: { contended_cpus: CONTENDED_CPUS, max_attempts: MAX_ATTEMPTS },
    samples: [],
    latency: [],
    skipped: {},
    medians: {},
  };
  // Ctrl-C must not leave servers and Redis running on the pinned CPUs.
  const onSignal = () => {
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    await runRounds(o, results, latDuration);
  } finally {
    await stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  for (const server of so.servers) {
    results.medians[server] = {};
    for (const topology of TOPOLOGIES) {
      results.medians[server][topology] = {};
      for (const size of so.sizes) {
        results.medians[server][topology][size] = median(
          preferClean(
            results.samples.filter((s) =>
              s.server === server && s.topology === topology && s.size === size &&
              s.per_sec !== null
            ),
          ).map((s) => s.per_sec!),
        );
      }
    }
  }
  return results;
}

async function runRounds(o: Options, results: ScaleoutResults, latDuration: number) {
  const so = o.scaleout;
  const noBackplane = edgewsBackplaneMissing();
  let redis: Redis | undefined = new Redis();
  try {
    await redis.start();
    console.log(`  redis-server ${results.versions["redis-server"]} on ${redis.url}`);
  } catch (e) {
    results.skipped["redis"] = `redis-server did not start: ${String(e).split("\n")[0]}`;
    console.log(`  ${results.skipped["redis"]}; measuring without Redis only`);
    redis = undefined;
  }
  const skip = (key: string, why: string) => {
    if (results.skipped[key]) return;
    results.skipped[key] = why;
    console.log(`  SKIP ${key}: ${why.split("\n")[0]}`);
  };
  for (let round = 1; round <= o.rounds; round++) {
    const order = so.servers.map((_, i) => so.servers[(i + round - 1) % so.servers.length]);
    for (const server of order) {
      for (const topology of TOPOLOGIES) {
        const key = `${server} ${topology}`;
        if (topology !== "1" && !redis) continue;
        if (topology !== "1" && SERVERS[server].edgews && noBackplane) {
          skip(key, noBackplane);
          continue;
        }
        if (results.skipped[key]) continue;
        await redis?.pin(PINNING[topology].redis);
        const d = new Deployment(server, topology, redis);
        try {
          await d.start();
        } catch (e) {
          await d.stop();
          skip(key, e instanceof Error ? e.message : String(e));
          continue;
        }
        try {
          for (const size of so.sizes) {
            if (!d.alive) break;
            await runFanout(results, round, d, size, o);
          }
          if (topology === "2r" && d.alive) {
            await runLatency(results, round, d, o, latDuration);
          }
        } finally {
          await d.stop();
        }
      }
    }
  }
}

async function runFanout(
  results: ScaleoutResults,
  round: number,
  d: Deployment,
  size: number,
  o: Options,
): Promise<void> {
  const so: ScaleoutOptions = o.scaleout;
  const args = fanoutArgs(d, size, so.subs);
  args.push("--window", String(so.window));
  args.push("--warmup", String(o.warmup), "--duration", String(o.duration));
  const timeout = (o.warmup + o.duration + 90) * 1000;
  const { r, other, contended, attempts } = await measure(args, d, o, timeout);
  const problem = problemOf(r, so.subs);
  results.samples.push({
    round,
    server: d.server,
    topology: d.topology,
    size,
    per_sec: problem ? null : r.deliveries_per_sec,
    server_cpu: (r.server_cpu ?? 0) + Math.max(0, r.server2_cpu ?? 0),
    other_cpu: other,
    contended,
    attempts,
    problem,
    raw: r,
  });
  const cpus = d.topology === "2r"
    ? `A ${pct(r.server_cpu)} B ${pct(r.server2_cpu)}`
    : `${pct(r.server_cpu)}`;
  console.log(
    `  [${round}/${o.rounds}] ${d.server.padEnd(13)} ${d.topology.padEnd(2)} ` +
      `${fmtSize(size).padStart(6)}: ` +
      (problem
        ? `INVALID (${problem})`
        : `${fmtNum(r.deliveries_per_sec).padStart(10)} deliveries/s` +
          (d.topology === "2r"
            ? ` (A ${fmtNum(r.deliveries_a / r.seconds)}, B ${fmtNum(r.deliveries_b / r.seconds)})`
            : "") +
          `  server CPU ${cpus}  loadgen ${pct(r.loadgen_cpu)}` +
          (d.topology !== "1" ? `  redis ${pct(r.redis_cpu)}` : "") +
          (contended ? `  CONTENDED (other processes: ${fmtNum(other!, 2)} CPUs)` : "")),
  );
}

async function runLatency(
  results: ScaleoutResults,
  round: number,
  d: Deployment,
  o: Options,
  latDuration: number,
): Promise<void> {
  const so = o.scaleout;
  const args = fanoutArgs(d, so.latSize, so.subs);
  args.push("--rate", String(so.rate), "--window", String(so.window));
  args.push("--warmup", String(Math.min(o.warmup, 2)), "--duration", String(latDuration));
  const { r, other, contended, attempts } = await measure(args, d, o, (latDuration + 90) * 1000);
  let problem = problemOf(r, so.subs);
  if (!problem && r.skipped_publishes > 0) {
    problem = `${r.skipped_publishes} publishes skipped: the rate was not sustained`;
  }
  results.latency.push({
    round,
    server: d.server,
    other_cpu: other,
    contended,
    attempts,
    problem,
    raw: r,
  });
  const ms = (x: number | undefined) => x === undefined ? "—" : `${fmtNum(x / 1000, 2)} ms`;
  const p = (q: Json | undefined) => `p50 ${ms(q?.p50_us)} p99 ${ms(q?.p99_us)}`;
  console.log(
    `  [${round}/${o.rounds}] ${d.server.padEnd(13)} latency @ ${so.rate}/s: ` +
      (problem
        ? `INVALID (${problem})`
        : `B ${p(r.lat_b)}; first on B ${p(r.first_b)}; A ${p(r.lat_a)}` +
          `  (server CPU A ${pct(r.server_cpu)} B ${pct(r.server2_cpu)})` +
          (contended ? `  CONTENDED (other processes: ${fmtNum(other!, 2)} CPUs)` : "")),
  );
}

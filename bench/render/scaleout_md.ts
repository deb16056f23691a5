/**
 * SCALEOUT.md: the method and the prose around the scale-out tables, from a saved scaleout.json.
 *
 * @module
 */

import { fmtNum, fmtSize } from "../lib/format.ts";
import type { SavedScaleout, ScaleoutResults } from "../lib/results.ts";
import { SCALEOUT_ANCHOR } from "../lib/servers.ts";
import { CONTENDED_CPUS, MAX_ATTEMPTS, TARGET_VS_ANCHOR } from "../suites/scaleout_plan.ts";
import {
  anchorTable,
  backplaneTable,
  cpuTable,
  fanoutTable,
  invalidRuns,
  latencyTable,
  scalingTable,
} from "./scaleout_tables.ts";

/** The fan-out and latency tables, for the console summary at the end of a run. */
export function scaleoutSummary(res: ScaleoutResults): string {
  return [
    "scaleout, deliveries/s:",
    fanoutTable(res),
    "",
    `scaleout, latency (ms) at ${res.options.rate} publishes/s:`,
    latencyTable(res),
  ].join("\n");
}

function method(res: SavedScaleout): string[] {
  const o = res.options;
  // Files saved before the suite recorded its thresholds were measured with today's.
  const contended = res.method?.contended_cpus ?? CONTENDED_CPUS;
  const attempts = res.method?.max_attempts ?? MAX_ATTEMPTS;
  return [
    `- **Load**: our raw-TCP load generator (\`bench/loadgen/loadgen.c\`, broadcast mode) holds ` +
    `${o.subs} subscriber connections and one publisher connection. The publisher sends text ` +
    `messages of the given size; the server publishes each to every subscriber (edgews: ` +
    "`server.publish(topic, data)`; Socket.IO: a `pub` event re-emitted with " +
    "`io.to(room).emit`, its subscribers speak Engine.IO v4 / Socket.IO over a plain " +
    'WebSocket, `42["m","<payload>"]`, pings answered). Subscribers count frames by ' +
    `header. At most ${o.window} broadcasts are in flight (a publish goes out only while ` +
    `fewer than ${o.window} × ${o.subs} deliveries are outstanding), so the servers set the ` +
    "pace. Deliveries/s = frames received per second summed over all subscribers; a run is " +
    "invalid if more than 0.1% of the deliveries are missing, any arrives twice, or a " +
    `connection dies. ${o.warmup} s warm-up + ${o.duration} s measured per run. The window ` +
    "is the broadcast suite's. It matters: a deeper one lets a server coalesce more queued " +
    "frames per subscriber write, which lifts edgews (and Bun) far more than Socket.IO; and " +
    "with two instances the round trip through Redis can make it the limit for the fastest " +
    "server (then the *machine* column of the CPU table shows idle time).",
    "- **Topologies**: *1 instance* (no Redis); *1 instance + Redis* (edgews with a " +
    "`RedisBackplane`, Socket.IO with the Redis adapter; every subscriber local, so this is " +
    "the cost of the backplane for local traffic: each publish also goes to Redis, and comes " +
    "back to the instance, which drops it as its own); *2 instances + Redis* (subscribers " +
    "split half and half, the publisher on instance A). One redis-server " +
    '(`--save "" --appendonly no`, 127.0.0.1, a free port) serves the whole suite and is ' +
    "stopped at the end.",
    "- **Pinning** (the machine has 2 CPUs): one instance: server on CPU 0, load generator " +
    "and Redis on CPU 1, so CPU 0 holds only the server's own work (Redis's share of a " +
    "publish is small and shows in the CPU table). Two instances: A on CPU 0, B on CPU 1, " +
    "the load generator and Redis on either. **Limit**: there is no third core, so with two " +
    "instances the load generator (which parses every delivery) and Redis take CPU time " +
    "from the two servers; two instances on two dedicated cores would do better than the " +
    "*2 instances* column, which is a lower bound. The CPU table and the deliveries per " +
    "server CPU-second show how much of each core the servers actually got.",
    "- **Readiness**: a server prints `listening` once it listens and, with Redis, once its " +
    "Redis connections are up (Socket.IO: after Redis confirmed the adapter's " +
    "subscriptions; edgews: after `backplane.settled()`). An edgews instance subscribes to " +
    "the topic on Redis when its first subscriber arrives, so before measuring, the load " +
    "generator publishes one message at a time (one a second) until **every subscriber on " +
    "both instances has received one**: the cross-instance path is proven working end to " +
    "end, then in-flight messages settle for 0.2 s and counting starts from zero. Nothing " +
    "is pinned or pre-subscribed inside the servers.",
    "- **Other work on the machine**: before each run the suite waits (up to `--idle-wait` s) " +
    "for the machine to idle; during the run the load generator also reads machine-wide CPU " +
    "time (/proc/stat). A run during which processes outside the benchmark used more than " +
    `${contended} CPU is run again (at most ${attempts} attempts); medians use the ` +
    "uncontended samples when there are any (‡ marks a cell that had none).",
    `- **Latency**: on 2 instances + Redis, ${o.rate} publishes/s (a timerfd; no window) of ` +
    `${o.latSize} B, i.e. ${fmtNum(o.rate * o.subs)} deliveries/s, meant to be well below ` +
    "every server's capacity (the *load* column shows the fraction; a run in which the load " +
    "generator had to skip a publish because too many deliveries were outstanding is " +
    "invalid). Each payload starts with the CLOCK_MONOTONIC send " +
    "time and a sequence number; each subscriber computes arrival − send time with the same " +
    "clock (one machine). *All deliveries*: every delivery of every message sent in the " +
    "measured seconds, percentiles (nearest rank) over all of them, so they include the " +
    "time the server takes to write the message to the subscribers ahead in its fan-out " +
    `loop (at this rate every message is ${o.subs / 2} separate socket writes per ` +
    "instance). *First delivery*: per message, the earliest delivery on that instance: " +
    "the hop itself, including whatever instance A does before the message leaves for " +
    "Redis. Instance B's numbers are the cross-instance latency (publisher on A → " +
    "A → Redis → B → subscriber); A's, local delivery on the publishing instance, for " +
    "comparison.",
  ];
}

/** SCALEOUT.md for `res` (not yet formatted). */
export function scaleoutMarkdown(res: SavedScaleout): string {
  const o = res.options, machine = res.machine, v = res.versions;
  const md: string[] = [];
  md.push(
    "# edgews scale-out benchmark",
    "",
    "Generated by `bench/run.ts --suites scaleout` (module `bench/suites/scaleout.ts`) — do " +
      "not edit by hand. Re-run with:",
    "",
    "```sh",
    res.command.replace(/^deno/, "node_modules/.bin/deno"),
    "```",
    "",
    `Machine: ${machine.nproc} CPUs (\`nproc\`), ${machine.cpu_model}, Linux ${machine.kernel}. ` +
      `${machine.deno}, Bun ${machine.bun}, Node ${v.node}; Socket.IO ${v["socket.io"]}, ` +
      `@socket.io/redis-adapter ${v["@socket.io/redis-adapter"]} with the \`redis\` client ` +
      `(node-redis) ${v.redis}, the client its README shows first; redis-server ` +
      `${v["redis-server"]}. Date: ${machine.date}. Load average at start: ` +
      `${machine.loadavg_at_start}.`,
    "",
    "## Method",
    "",
    ...method(res),
    "",
  );
  md.push(
    "## Fan-out deliveries/s",
    "",
    `Median of ${o.rounds} round(s). A/B interleaved: each round runs every server in turn ` +
      "(rotating which goes first), each through the three topologies.",
    "",
    fanoutTable(res),
    "",
    "### Two instances ÷ one instance",
    "",
    scalingTable(res),
    "",
  );
  if (o.servers.includes(SCALEOUT_ANCHOR)) {
    md.push(`### edgews ÷ Socket.IO (target ≥ ${TARGET_VS_ANCHOR}×)`, "", anchorTable(res), "");
  }
  md.push(
    "## Backplane cost for local traffic",
    "",
    "One instance, every subscriber local: deliveries/s with Redis configured ÷ without. " +
      "(With Redis each publish is also sent to Redis, which hands it back to the same " +
      "instance, whose backplane drops it as its own.)",
    "",
    backplaneTable(res),
    "",
    "## Cross-instance latency",
    "",
    `2 instances + Redis, ${o.rate} publishes/s × ${o.subs} subscribers ` +
      `(${fmtNum(o.rate * o.subs)} deliveries/s), ${fmtSize(o.latSize)} messages, ` +
      `${o.latDuration ?? 2 * o.duration} s measured per round; medians over ${o.rounds} ` +
      "round(s) of each round's percentile. Milliseconds. *Load* = this rate ÷ the server's " +
      "own 2-instance 32 B throughput above.",
    "",
    latencyTable(res),
    "",
    "## CPU use",
    "",
    "Medians over the rounds (of the samples the medians above use), in CPUs (1 = one core " +
      "for the whole measured time; from /proc). *Machine* = busy time machine-wide " +
      "(/proc/stat, softirq included), out of 2; *other* = machine − (servers + load " +
      "generator + Redis), i.e. processes that are not part of the benchmark. " +
      "*Deliveries per server CPU-second* = deliveries/s ÷ the servers' CPU (both instances " +
      "summed): how efficiently the servers fan out, independent of how much of the machine " +
      "they got.",
    "",
    cpuTable(res),
    "",
  );
  const invalid = invalidRuns(res);
  if (invalid.length) md.push("## Invalid runs (left out of the medians)", "", ...invalid, "");
  const skipped = Object.entries(res.skipped);
  if (skipped.length) {
    md.push("## Not measured", "");
    for (const [k, why] of skipped) md.push(`- \`${k}\`: ${why.split("\n")[0]}`);
    md.push("");
  }
  return md.join("\n");
}

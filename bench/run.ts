/**
 * edgews benchmark runner: `deno run -A bench/run.ts [options]` (`--help` lists them).
 *
 * Runs the suites (bench/suites/), saves what they measured as JSON (bench/results/), then renders
 * bench/RESULTS.md, bench/SCALEOUT.md and bench/results.svg from that JSON (bench/render/).
 * `--render` does only the last step, from the JSON a previous run saved.
 *
 * @module
 */

import { helpText, type Options, parseArgs, SUITES } from "./lib/args.ts";
import { skipped } from "./lib/launch.ts";
import { buildLoadgen } from "./lib/loadgen.ts";
import { machineInfo } from "./lib/machine.ts";
import { ROOT } from "./lib/paths.ts";
import {
  loadJson,
  resultPaths,
  type Results,
  type SavedScaleout,
  saveJson,
} from "./lib/results.ts";
import { mediansBy } from "./lib/stats.ts";
import { consoleSummary } from "./render/results_md.ts";
import { scaleoutSummary } from "./render/scaleout_md.ts";
import { renderSaved, writeResultsReport, writeScaleoutReport } from "./render/write.ts";
import { broadcastSuite } from "./suites/broadcast.ts";
import { codecSuite } from "./suites/codec.ts";
import { CLIENT_DEFLATE_OFFER, compressionSuite } from "./suites/compression.ts";
import { handshakeSuite } from "./suites/handshake.ts";
import { latencySuite, latencyWarmup } from "./suites/latency.ts";
import { memorySuite } from "./suites/memory.ts";
import { BROWSER_DEFLATE_OFFER, memoryDeflateSuite } from "./suites/memory_deflate.ts";
import { saturationCheck } from "./suites/saturation.ts";
import { scaleoutSuite } from "./suites/scaleout.ts";
import { throughputSuite } from "./suites/throughput.ts";

/** Each suite: runs it and puts what it measured into the results. */
const RUN: Record<string, (o: Options, r: Results) => Promise<void>> = {
  throughput: async (o, r) => {
    if (o.check) r.saturation = await saturationCheck(o);
    const samples = await throughputSuite(o);
    r.throughput = { medians: mediansBy(samples, (s) => s.msgs_per_sec), samples };
  },
  compression: async (o, r) => {
    const { payloads, samples } = await compressionSuite(o);
    r.compression = {
      sizes: o.czSizes,
      conns: o.conns,
      window: o.window,
      extensions: CLIENT_DEFLATE_OFFER,
      payloads,
      medians: mediansBy(samples, (s) => s.msgs_per_sec),
      samples,
    };
  },
  memory: async (o, r) => {
    r.memory = { idle_conns: o.idleConns, samples: await memorySuite(o) };
  },
  "memory-deflate": async (o, r) => {
    const samples = await memoryDeflateSuite(o);
    r.memoryDeflate = { idle_conns: o.idleConns, extensions: BROWSER_DEFLATE_OFFER, samples };
  },
  handshake: async (o, r) => {
    r.handshake = { concurrency: o.hsConcurrency, samples: await handshakeSuite(o) };
  },
  broadcast: async (o, r) => {
    const samples = await broadcastSuite(o);
    const medians = mediansBy(samples, (s) => s.per_sec);
    r.broadcast = { subscribers: o.bcSubs, window: o.bcWindow, sizes: o.bcSizes, medians, samples };
  },
  latency: async (o, r) => {
    const samples = await latencySuite(o);
    const { latConns: conns, latRate: rate, latSize: size, latDuration: duration } = o;
    r.latency = { conns, rate, size, warmup: latencyWarmup(o), duration, samples };
  },
  codec: async (o, r) => {
    r.codec = await codecSuite(o);
  },
  scaleout: async (o, r) => {
    r.scaleout = await scaleoutSuite(o);
  },
};

const short = (path: string) => path.replace(`${ROOT}/`, "");

async function measure(o: Options, out: string): Promise<void> {
  const command = ["deno run -A bench/run.ts", ...Deno.args].join(" ");
  await buildLoadgen();
  const machine = await machineInfo();
  console.log(
    `machine: ${machine.nproc} CPUs, ${machine.cpu_model}; ${machine.deno}, bun ${machine.bun}, ` +
      `node ${machine.node}, ws ${machine.ws}; load average ${machine.loadavg_at_start}`,
  );
  if (Number(machine.loadavg_at_start.split(" ")[0]) > 0.5) {
    console.log("WARNING: the machine is not idle (load average > 0.5); results will be noisy.");
  }
  const results: Results = { machine, command, options: o };
  const t0 = Date.now();
  for (const suite of Object.keys(SUITES)) {
    if (o.suites.includes(suite)) await RUN[suite](o, results);
  }
  results.elapsed_seconds = (Date.now() - t0) / 1000;
  results.skipped = Object.fromEntries(skipped);

  // What is printed and written comes from the JSON as saved, as `--render` will read it.
  const saved: Results = JSON.parse(JSON.stringify(results));
  const summary = [consoleSummary(saved), saved.scaleout && scaleoutSummary(saved.scaleout)];
  console.log("\n== results (medians) ==\n");
  console.log(summary.filter((x) => x).join("\n\n"));
  for (const [k, v] of skipped) console.log(`skipped ${k}: ${v.split("\n")[0]}`);
  if (!o.write) return;

  const paths = resultPaths(out);
  const written: string[] = [];
  // The scale-out suite has files of its own, so that a run of it alone leaves RESULTS.md be.
  if (results.scaleout) {
    await saveJson(paths.scaleout, { machine, command, ...results.scaleout });
    written.push(paths.scaleout);
    written.push(
      ...await writeScaleoutReport(out, (await loadJson<SavedScaleout>(paths.scaleout))!),
    );
  }
  if (o.suites.some((x) => x !== "scaleout")) {
    await saveJson(paths.latest, results);
    written.push(paths.latest);
    written.push(...await writeResultsReport(out, (await loadJson<Results>(paths.latest))!));
  }
  console.log(`\nwrote ${written.map(short).join(", ")}`);
}

async function main(): Promise<number> {
  let cli;
  try {
    cli = parseArgs(Deno.args);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 2;
  }
  if (cli.help) {
    console.log(helpText());
  } else if (cli.render) {
    const written = await renderSaved(cli.out);
    console.log(`wrote ${written.map(short).join(", ")}`);
  } else {
    await measure(cli.options, cli.out);
  }
  return 0;
}

Deno.exit(await main());

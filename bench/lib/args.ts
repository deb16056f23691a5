/**
 * The runner's command line: one table of options from which both the parser (node:util's
 * `parseArgs`) and `--help` are made, so that the two cannot disagree.
 *
 * @module
 */

import { parseArgs as parseNodeArgs } from "node:util";
import { parseSize } from "./format.ts";
import { BENCH_DIR } from "./paths.ts";
import { ECHO_SERVERS, SCALEOUT_SERVERS } from "./servers.ts";

/** The suites, in the order they run, with what each measures (for `--help`). */
export const SUITES: Record<string, string> = {
  throughput: "echo messages/s, N connections x W messages in flight, per message size",
  compression: "echo messages/s of JSON text with permessage-deflate on both sides",
  memory: "server RSS growth per idle connection with 10,000 open WebSockets",
  "memory-deflate": "the same with permessage-deflate negotiated on every connection",
  handshake: "connect + upgrade + close handshake cycles per second",
  broadcast: "fan-out: one published message to 1,000 subscribers, deliveries/s",
  latency: "echo round-trip percentiles, 10,000 connections x 1 message/s each",
  codec: "parse / encode / unmask microbenchmarks in GB/s, on Deno, Bun and Node",
  scaleout: "fan-out across instances through Redis, edgews vs Socket.IO (writes SCALEOUT.md)",
};

/** The scale-out suite's own options (`--so-*`). */
export type ScaleoutOptions = {
  servers: string[];
  subs: number;
  sizes: number[];
  window: number;
  /** Latency: publishes per second. */
  rate: number;
  /** Latency: message size (at least 24 bytes, for the time stamp and sequence number). */
  latSize: number;
  /** Latency: measured seconds; null means twice `--duration`. */
  latDuration: number | null;
};

/** What to measure and how (saved with the results as `options`; the key names are kept). */
export type Options = {
  suites: string[];
  servers: string[];
  sizes: number[];
  rounds: number;
  warmup: number;
  duration: number;
  conns: number;
  window: number;
  bigConns: number;
  bigWindow: number;
  text: boolean;
  idleConns: number;
  hsConcurrency: number;
  bcSubs: number;
  bcWindow: number;
  bcSizes: number[];
  check: boolean;
  write: boolean;
  idleWait: number;
  /** Compression suite: message sizes (uncompressed JSON text). */
  czSizes: number[];
  /** Latency suite: connections, messages per second per connection, message size, seconds. */
  latConns: number;
  latRate: number;
  latSize: number;
  latDuration: number;
  scaleout: ScaleoutOptions;
};

/** The parsed command line: the options, and what to do instead of measuring. */
export type Cli = {
  options: Options;
  /** Re-render the reports from the saved results instead of measuring. */
  render: boolean;
  /** The folder the reports and results/ are written to (and, with --render, read from). */
  out: string;
  help: boolean;
};

function defaults(): Cli {
  return {
    options: {
      suites: Object.keys(SUITES),
      servers: [...ECHO_SERVERS],
      sizes: [32, 1024, 16384, 1048576],
      rounds: 3,
      warmup: 2,
      duration: 5,
      conns: 50,
      window: 20,
      bigConns: 10,
      bigWindow: 2,
      text: false,
      idleConns: 10000,
      hsConcurrency: 16,
      bcSubs: 1000,
      bcWindow: 32,
      bcSizes: [32, 1024],
      check: true,
      write: true,
      idleWait: 60,
      czSizes: [1024, 65536],
      latConns: 10000,
      latRate: 1,
      latSize: 64,
      latDuration: 10,
      scaleout: {
        servers: [...SCALEOUT_SERVERS],
        subs: 1000,
        sizes: [32, 1024],
        window: 32,
        rate: 50,
        latSize: 32,
        latDuration: null,
      },
    },
    render: false,
    out: BENCH_DIR,
    help: false,
  };
}

const list = (v: string) => v.split(",").map((x) => x.trim()).filter(Boolean);

function num(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw new Error(`bad number: ${v}`);
  return n;
}

function oneOf(names: string[], what: string) {
  return (v: string) => {
    const xs = list(v);
    for (const x of xs) if (!names.includes(x)) throw new Error(`unknown ${what}: ${x}`);
    return xs;
  };
}

/** One option: `arg` names its value (none: a flag); `set` applies it. */
type Spec = { arg?: string; help: string; set(c: Cli, v: string): void };

// Applied in command-line order, so `--quick --sizes 32` measures 32 B only while
// `--sizes 32 --quick` gets --quick's sizes, as the hand-written parser before did.
const OPTIONS: Record<string, Spec> = {
  suites: {
    arg: "a,b",
    help: "suites to run (default all; see above)",
    set: (c, v) => (c.options.suites = oneOf(Object.keys(SUITES), "suite")(v)),
  },
  servers: {
    arg: "a,b",
    help: `subset of: ${ECHO_SERVERS.join(", ")}`,
    set: (c, v) => (c.options.servers = oneOf(ECHO_SERVERS, "server")(v)),
  },
  sizes: {
    arg: "32,1k,...",
    help: "message sizes (default 32,1k,16k,1m)",
    set: (c, v) => (c.options.sizes = list(v).map(parseSize)),
  },
  rounds: {
    arg: "N",
    help: "rounds per measurement (default 3)",
    set: (c, v) => (c.options.rounds = num(v)),
  },
  warmup: {
    arg: "S",
    help: "warm-up seconds per measurement (default 2)",
    set: (c, v) => (c.options.warmup = num(v)),
  },
  duration: {
    arg: "S",
    help: "measured seconds per measurement (default 5)",
    set: (c, v) => (c.options.duration = num(v)),
  },
  conns: { arg: "N", help: "connections (default 50)", set: (c, v) => (c.options.conns = num(v)) },
  window: {
    arg: "W",
    help: "messages in flight per connection (default 20)",
    set: (c, v) => (c.options.window = num(v)),
  },
  "big-conns": {
    arg: "N",
    help: "connections for sizes >= 1 MiB (default 10)",
    set: (c, v) => (c.options.bigConns = num(v)),
  },
  "big-window": {
    arg: "W",
    help: "in flight per connection for sizes >= 1 MiB (default 2)",
    set: (c, v) => (c.options.bigWindow = num(v)),
  },
  text: { help: "send text frames instead of binary", set: (c) => (c.options.text = true) },
  "idle-conns": {
    arg: "N",
    help: "connections for the memory suite (default 10000)",
    set: (c, v) => (c.options.idleConns = num(v)),
  },
  "hs-concurrency": {
    arg: "N",
    help: "parallel handshakes for the handshake suite (default 16)",
    set: (c, v) => (c.options.hsConcurrency = num(v)),
  },
  "bc-subs": {
    arg: "N",
    help: "subscribers for the broadcast suite (default 1000)",
    set: (c, v) => (c.options.bcSubs = num(v)),
  },
  "bc-window": {
    arg: "W",
    help: "broadcasts in flight for the broadcast suite (default 32)",
    set: (c, v) => (c.options.bcWindow = num(v)),
  },
  "bc-sizes": {
    arg: "32,1k",
    help: "message sizes for the broadcast suite (default 32,1k)",
    set: (c, v) => (c.options.bcSizes = list(v).map(parseSize)),
  },
  "cz-sizes": {
    arg: "1k,64k",
    help: "compression: JSON message sizes before compression (default 1k,64k)",
    set: (c, v) => (c.options.czSizes = list(v).map(parseSize)),
  },
  "lat-conns": {
    arg: "N",
    help: "latency: connections (default 10000)",
    set: (c, v) => (c.options.latConns = num(v)),
  },
  "lat-rate": {
    arg: "R",
    help: "latency: messages per second per connection (default 1)",
    set: (c, v) => (c.options.latRate = num(v)),
  },
  "lat-size": {
    arg: "B",
    help: "latency: message size (default 64, at least 24)",
    set: (c, v) => (c.options.latSize = parseSize(v)),
  },
  "lat-duration": {
    arg: "S",
    help: "latency: measured seconds (default 10)",
    set: (c, v) => (c.options.latDuration = num(v)),
  },
  "no-check": {
    help: "skip the check that the load generator saturates Bun's native server",
    set: (c) => (c.options.check = false),
  },
  "no-write": {
    help: "measure and print only: write no results, reports or chart",
    set: (c) => (c.options.write = false),
  },
  "idle-wait": {
    arg: "S",
    help: "before each measurement wait up to S s for the machine to idle (default 60)",
    set: (c, v) => (c.options.idleWait = num(v)),
  },
  quick: {
    help: "rounds 1, warm-up 1 s, measure 2 s, sizes 32,16k, idle/lat-conns 2000, lat-duration 3",
    set: (c) =>
      Object.assign(c.options, {
        rounds: 1,
        warmup: 1,
        duration: 2,
        sizes: [32, 16384],
        idleConns: 2000,
        latConns: 2000,
        latDuration: 3,
      }),
  },
  render: {
    help: "measure nothing: re-render the reports from the JSON saved in results/",
    set: (c) => (c.render = true),
  },
  out: {
    arg: "DIR",
    help: "write RESULTS.md, SCALEOUT.md, results.svg and results/ there (default bench/)",
    set: (c, v) => (c.out = v.replace(/\/$/, "")),
  },
  help: { help: "print this help (also -h)", set: (c) => (c.help = true) },
  "so-servers": {
    arg: "a,b",
    help: `scaleout: subset of: ${SCALEOUT_SERVERS.join(", ")}`,
    set: (c, v) => (c.options.scaleout.servers = oneOf(SCALEOUT_SERVERS, "scaleout server")(v)),
  },
  "so-subs": {
    arg: "N",
    help: "scaleout: subscribers (default 1000), split half/half over 2 instances",
    set: (c, v) => (c.options.scaleout.subs = num(v)),
  },
  "so-sizes": {
    arg: "32,1k",
    help: "scaleout: message sizes (default 32,1k)",
    set: (c, v) => (c.options.scaleout.sizes = list(v).map(parseSize)),
  },
  "so-window": {
    arg: "W",
    help: "scaleout: broadcasts in flight (default 32)",
    set: (c, v) => (c.options.scaleout.window = num(v)),
  },
  "so-rate": {
    arg: "R",
    help: "scaleout latency: publishes per second (default 50)",
    set: (c, v) => (c.options.scaleout.rate = num(v)),
  },
  "so-lat-size": {
    arg: "B",
    help: "scaleout latency: message size (default 32, at least 24)",
    set: (c, v) => (c.options.scaleout.latSize = parseSize(v)),
  },
  "so-lat-duration": {
    arg: "S",
    help: "scaleout latency: measured seconds (default 2 x --duration)",
    set: (c, v) => (c.options.scaleout.latDuration = num(v)),
  },
};

/** Parses the runner's arguments; throws with a message that points at `--help`. */
export function parseArgs(argv: string[]): Cli {
  const cli = defaults();
  try {
    const { tokens } = parseNodeArgs({
      args: argv,
      options: Object.fromEntries(
        Object.entries(OPTIONS).map(([name, s]) => [
          name,
          name === "help"
            ? { type: "boolean" as const, short: "h" }
            : { type: s.arg ? "string" as const : "boolean" as const },
        ]),
      ),
      strict: true,
      allowPositionals: false,
      tokens: true,
    });
    for (const t of tokens) {
      if (t.kind === "option") OPTIONS[t.name].set(cli, t.value ?? "");
    }
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : e} (try --help)`);
  }
  return cli;
}

/** The text `--help` prints. */
export function helpText(): string {
  const opt = (name: string, s: Spec) =>
    `  ${`--${name}${s.arg ? ` ${s.arg}` : ""}`.padEnd(22)}${s.help}`;
  return [
    "edgews benchmark runner",
    "",
    "  deno run -A bench/run.ts [options]",
    "",
    "Runs every server in bench/servers/ against the same load from our raw-TCP load generator",
    "(bench/loadgen/loadgen.c, compiled with gcc on first use), A/B interleaved: each round runs",
    "each server in turn. Servers are pinned with `taskset -c 0`, the load generator with",
    "`taskset -c 1`. Prints medians and the ratios of edgews (on Deno, on Bun) to each anchor,",
    "saves bench/results/latest.json (scaleout: results/scaleout.json) and renders",
    "bench/RESULTS.md, bench/SCALEOUT.md and bench/results.svg from them.",
    "",
    "Suites (--suites, comma separated; default all):",
    ...Object.entries(SUITES).map(([k, v]) => `  ${k.padEnd(16)}${v}`),
    "",
    "Options:",
    ...Object.entries(OPTIONS).map(([k, s]) => opt(k, s)),
    "",
    "Examples:",
    "  deno run -A bench/run.ts --quick",
    "  deno run -A bench/run.ts --suites throughput --servers edgews-bun,bun-native --sizes 32",
    "  deno run -A bench/run.ts --render",
  ].join("\n");
}

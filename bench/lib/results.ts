/**
 * The saved results (bench/results/latest.json and scaleout.json): their shape, and reading and
 * writing them. The reports are rendered from these files alone, so everything a report shows
 * must be in them.
 *
 * @module
 */

import type { Options, ScaleoutOptions } from "./args.ts";
import type { Medians } from "./stats.ts";

/** A JSON object as the load generator prints it. */
// deno-lint-ignore no-explicit-any
export type Json = Record<string, any>;

/** One echo measurement: a server at a message size in one round. */
export type Sample = {
  round: number;
  server: string;
  size: number;
  /** Null when the run was invalid (see `problem`). */
  msgs_per_sec: number | null;
  server_cpu: number;
  loadgen_cpu: number;
  problem?: string;
  raw: Json;
};

/** One memory measurement: RSS growth per idle connection, null when invalid. */
export type MemSample = { round: number; server: string; bytes_per_conn: number | null; raw: Json };
/** One handshake measurement: cycles per second, null when invalid. */
export type HsSample = { round: number; server: string; per_sec: number | null; raw: Json };

/** One broadcast measurement: deliveries per second summed over the subscribers. */
export type BcSample = {
  round: number;
  server: string;
  size: number;
  per_sec: number | null;
  server_cpu: number;
  loadgen_cpu: number;
  problem?: string;
  raw: Json;
};

/** Round-trip latency percentiles of one latency run, in microseconds. */
export type Latency = {
  n: number;
  mean_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
};

/** One latency measurement: a server's echo round trips under many slow connections. */
export type LatSample = {
  round: number;
  server: string;
  /** Null when the run was invalid (see `problem`). */
  lat: Latency | null;
  server_cpu: number;
  loadgen_cpu: number;
  /** CPUs used by other processes during the measurement (null: not measured). */
  other_cpu: number | null;
  /** Other work used more than 0.15 CPUs (CONTENDED_CPUS): left out when clean samples exist. */
  contended: boolean;
  problem?: string;
  raw: Json;
};

/** The compression suite's messages of one size: how many, and their compressed total. */
export type DeflatePayloads = { size: number; messages: number; bytes: number; compressed: number };

/** One codec microbenchmark result. */
export type CodecSample = {
  round: number;
  runtime: string;
  op: string;
  size: number;
  gb_per_sec: number;
};
/** The codec operations, in the order the suite runs them and the report lists them. */
export const CODEC_OPS: string[] = ["parse", "parse-owned", "encode", "encode-masked", "unmask"];

/** How the scale-out suite deploys a server: alone, alone with Redis, or two with Redis. */
export type Topology = "1" | "1r" | "2r";
/** Taskset CPU lists per topology: instance A, instance B, load generator, Redis. */
export type Pinning = Record<Topology, { a: string; b: string; loadgen: string; redis: string }>;

/** One scale-out fan-out measurement. */
export type ScaleoutSample = {
  round: number;
  server: string;
  topology: Topology;
  size: number;
  per_sec: number | null;
  server_cpu: number;
  /** CPUs used by other processes during the measurement. */
  other_cpu: number | null;
  contended: boolean;
  attempts: number;
  problem?: string;
  raw: Json;
};

/** One cross-instance latency measurement (2 instances + Redis). */
export type LatencySample = {
  round: number;
  server: string;
  other_cpu: number | null;
  contended: boolean;
  attempts: number;
  problem?: string;
  raw: Json;
};

/** What the scale-out suite measured (saved as bench/results/scaleout.json). */
export type ScaleoutResults = {
  options: ScaleoutOptions & { rounds: number; warmup: number; duration: number };
  versions: Json;
  pinning: Pinning;
  /** How runs were judged contended and re-run (saved since this runner; older files lack it). */
  method?: { contended_cpus: number; max_attempts: number };
  samples: ScaleoutSample[];
  latency: LatencySample[];
  skipped: Record<string, string>;
  medians: Record<string, Record<string, Record<number, number | undefined>>>;
};

/** scaleout.json: the suite's results with the machine and the command line. */
export type SavedScaleout = ScaleoutResults & { machine: Json; command: string };

/** latest.json: every suite run by one command, each present only if it ran. */
export type Results = {
  machine: Json;
  command: string;
  options: Options;
  saturation?: Json;
  throughput?: { medians: Medians; samples: Sample[] };
  compression?: {
    sizes: number[];
    conns: number;
    window: number;
    /** The Sec-WebSocket-Extensions offer the load generator sent. */
    extensions: string;
    payloads: DeflatePayloads[];
    medians: Medians;
    samples: Sample[];
  };
  memory?: { idle_conns: number; samples: MemSample[] };
  memoryDeflate?: { idle_conns: number; extensions: string; samples: MemSample[] };
  latency?: {
    conns: number;
    /** Messages per second per connection. */
    rate: number;
    size: number;
    warmup: number;
    duration: number;
    samples: LatSample[];
  };
  handshake?: { concurrency: number; samples: HsSample[] };
  broadcast?: {
    subscribers: number;
    window: number;
    sizes: number[];
    medians: Medians;
    samples: BcSample[];
  };
  codec?: { samples: CodecSample[]; versions: Json };
  scaleout?: ScaleoutResults;
  elapsed_seconds?: number;
  /** Servers that did not start, and why (saved since this runner; older files lack it). */
  skipped?: Record<string, string>;
};

/** Where the results of a run are saved, below the output folder (`--out`, default bench/). */
export function resultPaths(dir: string): { latest: string; scaleout: string } {
  return { latest: `${dir}/results/latest.json`, scaleout: `${dir}/results/scaleout.json` };
}

/** Writes `value` as indented JSON, creating the folder. */
export async function saveJson(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(path.replace(/\/[^/]*$/, ""), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(value, null, 2) + "\n");
}

/** Reads a saved JSON file, or undefined if there is none. */
export async function loadJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

// The scale-out suite of bench/run.ts (`--suites scaleout`): fan-out across server instances
// linked by Redis pub/sub, edgews (`serve({ backplane: new RedisBackplane(...) })`, on Deno and on
// Bun) against Socket.IO with `@socket.io/redis-adapter` on Node.
//
// Topologies, each measured with the load generator's broadcast mode (bench/loadgen/loadgen.c):
//   1    one instance, no Redis: the server on CPU 0, the load generator on CPU 1.
//   1r   one instance with the backplane (or the Redis adapter) configured, every subscriber
//        local: the cost of the backplane for purely local traffic. Redis on CPU 1 (with the load
//        generator), so that CPU 0 holds only the server's own work.
//   2r   two instances through Redis: subscribers split half and half, the publisher on instance
//        A. A on CPU 0, B on CPU 1; the load generator and Redis may run on either CPU (the
//        machine has two: see the limits in SCALEOUT.md).
// and the cross-instance latency: on 2r, publishes at a fixed moderate rate, each stamped with its
// CLOCK_MONOTONIC send time, every delivery's latency recorded by instance.
//
// A redis-server of the suite's own (127.0.0.1, free port, `--save "" --appendonly no`) serves
// the whole suite and is stopped at the end. Results: bench/SCALEOUT.md and
// bench/results/scaleout.json (written by run.ts through writeScaleout), so that a run of this
// suite alone leaves RESULTS.md and the other suites' results as they are.

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();
const BUN = `${ROOT}/node_modules/.bin/bun`;
const LOADGEN = `${ROOT}/bench/.build/loadgen`;
const SCALEOUT_MD = `${ROOT}/bench/SCALEOUT.md`;
const SCALEOUT_JSON = `${ROOT}/bench/results/scaleout.json`;

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

type ServerSpec = { label: string; cmd: string[]; edgews: boolean };
const SERVERS: Record<string, ServerSpec> = {
  "edgews-deno": {
    label: "edgews on Deno",
    cmd: [DENO, "run", "-A", "bench/servers/edgews_broadcast.ts"],
    edgews: true,
  },
  "edgews-bun": {
    label: "edgews on Bun",
    cmd: [BUN, "bench/servers/edgews_broadcast.ts"],
    edgews: true,
  },
  "socketio-node": {
    label: "Socket.IO + redis-adapter on Node",
    cmd: ["node", "bench/servers/socketio_scaleout.mjs"],
    edgews: false,
  },
};
const ANCHOR = "socketio-node";
const TARGET_VS_ANCHOR = 5;

type Topology = "1" | "1r" | "2r";
const TOPOLOGIES: Topology[] = ["1", "1r", "2r"];
const TOPOLOGY_LABEL: Record<Topology, string> = {
  "1": "1 instance",
  "1r": "1 instance + Redis",
  "2r": "2 instances + Redis",
};
// CPU lists: [instance A, instance B, load generator, Redis].
const PINNING: Record<Topology, { a: string; b: string; loadgen: string; redis: string }> = {
  "1": { a: "0", b: "", loadgen: "1", redis: "1" },
  "1r": { a: "0", b: "", loadgen: "1", redis: "1" },
  "2r": { a: "0", b: "1", loadgen: "0,1", redis: "0,1" },
};

/** The suite's own options (`--so-*`), next to run.ts's rounds, warm-up and duration. */
export type ScaleoutOptions = {
  servers: string[];
  subs: number;
  sizes: number[];
  window: number;
  rate: number;
  latSize: number;
  latDuration: number | null;
};

export function defaultScaleoutOptions(): ScaleoutOptions {
  return {
    servers: Object.keys(SERVERS),
    subs: 1000,
    sizes: [32, 1024],
    window: 32,
    rate: 50,
    latSize: 32,
    latDuration: null,
  };
}

/** Help text for run.ts's --help. */
export const SCALEOUT_HELP = `Options of the scaleout suite:
  --so-servers a,b    subset of: ${Object.keys(SERVERS).join(", ")}
  --so-subs N         subscribers (default 1000), split half/half over 2 instances
  --so-sizes 32,1k    message sizes (default 32,1k)
  --so-window W       broadcasts in flight (default 32)
  --so-rate R         latency: publishes per second (default 50)
  --so-lat-size B     latency: message size (default 32, at least 24)
  --so-lat-duration S latency: measured seconds (default 2 x --duration)`;

/** Applies one `--so-*` option (`value` is its argument); throws on an unknown one. */
export function parseScaleoutArg(
  o: ScaleoutOptions,
  name: string,
  value: string,
  parseSize: (s: string) => number,
): void {
  const list = value.split(",").map((x) => x.trim()).filter(Boolean);
  switch (name) {
    case "--so-servers":
      for (const s of list) if (!SERVERS[s]) throw new Error(`unknown scaleout server: ${s}`);
      o.servers = list;
      break;
    case "--so-subs":
      o.subs = Number(value);
      break;
    case "--so-sizes":
      o.sizes = list.map(parseSize);
      break;
    case "--so-window":
      o.window = Number(value);
      break;
    case "--so-rate":
      o.rate = Number(value);
      break;
    case "--so-lat-size":
      o.latSize = parseSize(value);
      break;
    case "--so-lat-duration":
      o.latDuration = Number(value);
      break;
    default:
      throw new Error(`unknown option: ${name} (try --help)`);
  }
}

/** What the suite needs from run.ts. */
export type ScaleoutContext = {
  rounds: number;
  warmup: number;
  duration: number;
  /** Waits (bounded) until the machine is idle; resolves with the fraction of CPU busy. */
  waitIdle(): Promise<number>;
};

export type ScaleoutSample = {
  round: number;
  server: string;
  topology: Topology;
  size: number;
  per_sec: number | null;
  server_cpu: number;
  /** CPUs used by other processes during the measurement (see otherCpu). */
  other_cpu: number | null;
  contended: boolean;
  attempts: number;
  problem?: string;
  raw: Json;
};

export type LatencySample = {
  round: number;
  server: string;
  other_cpu: number | null;
  contended: boolean;
  attempts: number;
  problem?: string;
  raw: Json;
};

/**
 * Other work on the machine while a run was measured, in CPUs: busy time machine-wide minus what
 * the servers, the load generator and Redis used. (Softirq time, the loopback network stack, is
 * charged to the processes it interrupts, so it is in both terms.)
 */
function otherCpu(r: Json): number | null {
  if (typeof r.machine_busy_cpus !== "number" || r.machine_busy_cpus < 0) return null;
  const ours = [r.server_cpu, r.server2_cpu, r.loadgen_cpu, r.redis_cpu]
    .filter((x) => typeof x === "number" && x > 0)
    .reduce((a, b) => a + b, 0);
  return Math.max(0, r.machine_busy_cpus - ours);
}

/** A run during which other processes used more than this many CPUs is re-run (twice at most). */
const CONTENDED_CPUS = 0.15;
const MAX_ATTEMPTS = 3;

/** Runs the load generator until a run is not contended (or MAX_ATTEMPTS are used up). */
async function measure(
  args: string[],
  d: Deployment,
  ctx: ScaleoutContext,
  timeoutMs: number,
): Promise<{ r: Json; other: number | null; contended: boolean; attempts: number }> {
  let r: Json = {};
  let other: number | null = null;
  let attempts = 0;
  while (attempts < MAX_ATTEMPTS && d.alive) {
    attempts++;
    await ctx.waitIdle();
    r = await loadgen(args, PINNING[d.topology].loadgen, timeoutMs);
    other = otherCpu(r);
    if (r.error || other === null || other <= CONTENDED_CPUS) break;
    console.log(
      `    (other processes used ${fmt(other, 2)} CPUs during the run; running it again)`,
    );
  }
  return { r, other, contended: other !== null && other > CONTENDED_CPUS, attempts };
}

export type ScaleoutResults = {
  options: ScaleoutOptions & { rounds: number; warmup: number; duration: number };
  versions: Json;
  pinning: typeof PINNING;
  samples: ScaleoutSample[];
  latency: LatencySample[];
  skipped: Record<string, string>;
  medians: Record<string, Record<string, Record<number, number | undefined>>>;
};

// ---------------------------------------------------------------------------------------------
// processes

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const running = new Set<Proc>();

/** A child process pinned with taskset that says when it is ready on its output. */
class Proc {
  child!: Deno.ChildProcess;
  pid = 0;
  exited = false;
  output = "";

  constructor(readonly what: string) {}

  async start(
    cmd: string[],
    cpus: string,
    env: Record<string, string>,
    ready: RegExp,
    timeoutMs = 20000,
  ): Promise<void> {
    this.child = new Deno.Command("bash", {
      args: ["-c", 'ulimit -n "$(ulimit -Hn)"; exec taskset -c "$0" "$@"', cpus, ...cmd],
      cwd: ROOT,
      env: { NODE_ENV: "production", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    running.add(this);
    this.pid = this.child.pid;
    this.child.status.then(() => {
      this.exited = true;
      running.delete(this);
    });
    let onReady: (() => void) | undefined;
    const readyP = new Promise<void>((r) => (onReady = r));
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      for await (const chunk of stream) {
        this.output = (this.output + dec.decode(chunk, { stream: true })).slice(-4000);
        if (ready.test(this.output)) onReady?.();
      }
    };
    pump(this.child.stdout).catch(() => {});
    pump(this.child.stderr).catch(() => {});
    const result = await Promise.race([
      readyP.then(() => "ready"),
      this.child.status.then(() => "exited"),
      sleep(timeoutMs).then(() => "timeout"),
    ]);
    if (result !== "ready") {
      await this.stop();
      // deno-lint-ignore no-control-regex
      const lines = this.output.replace(/\x1b\[[0-9;]*m/g, "").trim().split("\n");
      const err = lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? "";
      throw new Error(
        `${this.what}: ${result} before ready: ${err.trim()}\n    ${
          lines.slice(-8).join("\n    ")
        }`,
      );
    }
  }

  get alive(): boolean {
    return !this.exited;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    const done = await Promise.race([
      this.child.status.then(() => true),
      sleep(3000).then(() => false),
    ]);
    if (!done) {
      try {
        this.child.kill("SIGKILL");
      } catch { /* already gone */ }
      await this.child.status;
    }
  }
}

async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await sleep(10);
  return port;
}

async function output(cmd: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "";
  }
}

class Redis {
  proc = new Proc("redis-server");
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    await this.proc.start(
      [
        "redis-server",
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
      ],
      "0,1",
      {},
      /Ready to accept connections/,
      10000,
    );
  }

  /** Moves every thread of the running redis-server to `cpus`. */
  async pin(cpus: string): Promise<void> {
    await output(["taskset", "-a", "-p", "-c", cpus, String(this.proc.pid)]);
  }
}

/** One or two instances of a server, with or without Redis. */
class Deployment {
  instances: Proc[] = [];
  ports: number[] = [];

  constructor(readonly server: string, readonly topology: Topology, readonly redis?: Redis) {}

  async start(): Promise<void> {
    const spec = SERVERS[this.server];
    const pin = PINNING[this.topology];
    const cpus = this.topology === "2r" ? [pin.a, pin.b] : [pin.a];
    for (const [i, cpu] of cpus.entries()) {
      const port = await freePort();
      const env: Record<string, string> = { PORT: String(port) };
      if (this.topology !== "1") env.REDIS_URL = this.redis!.url;
      const proc = new Proc(`${this.server} instance ${"AB"[i]}`);
      this.instances.push(proc);
      this.ports.push(port);
      await proc.start(spec.cmd, cpu, env, /(^|\n)listening \d+/);
    }
  }

  get alive(): boolean {
    return this.instances.every((p) => p.alive);
  }

  async stop(): Promise<void> {
    await Promise.all(this.instances.map((p) => p.stop()));
  }
}

async function loadgen(args: string[], cpus: string, timeoutMs: number): Promise<Json> {
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

// ---------------------------------------------------------------------------------------------
// measurements

function fanoutArgs(d: Deployment, redis: Redis | undefined, size: number, subs: number) {
  const args = [
    "broadcast",
    "--port",
    String(d.ports[0]),
    "--size",
    String(size),
    "--conns",
    String(subs),
    "--text",
    "--server-pid",
    String(d.instances[0].pid),
    "--timeout",
    "30",
    "--machine-cpu",
  ];
  if (d.ports.length > 1) {
    args.push("--port2", String(d.ports[1]), "--server-pid2", String(d.instances[1].pid));
  }
  if (d.topology !== "1" && redis) args.push("--redis-pid", String(redis.proc.pid));
  if (d.server === ANCHOR) args.push("--socketio");
  return args;
}

function problemOf(r: Json, subs: number): string | undefined {
  if (r.error) return r.error;
  if (r.subscribers_alive !== subs) return `${subs - r.subscribers_alive} subscribers died`;
  if (!r.publisher_alive) return "the publisher connection died";
  if (r.errors > 0) return `${r.errors} errors`;
  if (r.bad_len > 0) return `${r.bad_len} deliveries with the wrong length`;
  if (r.deliveries === 0) return "no deliveries";
  if (r.to_publisher > 0) return `${r.to_publisher} deliveries to the publisher`;
  if (r.extra > 0) return `${r.extra} deliveries too many (duplicates?)`;
  if (r.missing > 0.001 * Math.max(1, r.deliveries)) return `${r.missing} deliveries missing`;
  if (r.bad_stamp > 0) return `${r.bad_stamp} deliveries without a readable time stamp`;
  return undefined;
}

const fmt = (n: number | undefined | null, digits = 0) =>
  n === undefined || n === null || !Number.isFinite(n) ? "—" : n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });

const fmtSize = (n: number) =>
  n >= 1048576 && n % 1048576 === 0
    ? `${n / 1048576} MiB`
    : n >= 1024 && n % 1024 === 0
    ? `${n / 1024} KiB`
    : `${n} B`;

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const pct = (x: number) => `${fmt(x * 100)}%`;

function edgewsBackplaneMissing(): string | undefined {
  try {
    Deno.statSync(`${ROOT}/redis.ts`);
    return undefined;
  } catch {
    return "redis.ts (RedisBackplane) does not exist yet";
  }
}

async function versions(): Promise<Json> {
  const pkg = async (name: string) => {
    try {
      return JSON.parse(await Deno.readTextFile(`${ROOT}/node_modules/${name}/package.json`))
        .version;
    } catch {
      return "not installed";
    }
  };
  return {
    "redis-server": /v=(\S+)/.exec(await output(["redis-server", "--version"]))?.[1] ?? "unknown",
    "socket.io": await pkg("socket.io"),
    "@socket.io/redis-adapter": await pkg("@socket.io/redis-adapter"),
    redis: await pkg("redis"),
    node: await output(["node", "--version"]),
  };
}

export async function scaleoutSuite(
  so: ScaleoutOptions,
  ctx: ScaleoutContext,
): Promise<ScaleoutResults> {
  const latDuration = so.latDuration ?? 2 * ctx.duration;
  console.log(
    `\n== scaleout: ${so.subs} subscribers, ${so.window} broadcasts in flight, topologies ` +
      `${TOPOLOGIES.join(", ")}; latency at ${so.rate} publishes/s for ${latDuration} s; ` +
      `${ctx.warmup} s warm-up + ${ctx.duration} s, ${ctx.rounds} round(s) ==`,
  );
  const results: ScaleoutResults = {
    options: { ...so, rounds: ctx.rounds, warmup: ctx.warmup, duration: ctx.duration },
    versions: await versions(),
    pinning: PINNING,
    samples: [],
    latency: [],
    skipped: {},
    medians: {},
  };
  const noBackplane = edgewsBackplaneMissing();
  let redis: Redis | undefined = new Redis();
  const stopAll = async () => {
    await Promise.all([...running].map((p) => p.stop()));
  };
  const onSignal = () => {
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
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
    for (let round = 1; round <= ctx.rounds; round++) {
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
              await runFanout(results, round, d, redis, size, so, ctx);
            }
            if (topology === "2r" && d.alive) {
              await runLatency(results, round, d, redis, so, ctx, latDuration);
            }
          } finally {
            await d.stop();
          }
        }
      }
    }
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

async function runFanout(
  results: ScaleoutResults,
  round: number,
  d: Deployment,
  redis: Redis | undefined,
  size: number,
  so: ScaleoutOptions,
  ctx: ScaleoutContext,
): Promise<void> {
  const args = fanoutArgs(d, redis, size, so.subs);
  args.push(
    "--window",
    String(so.window),
    "--warmup",
    String(ctx.warmup),
    "--duration",
    String(ctx.duration),
  );
  const { r, other, contended, attempts } = await measure(
    args,
    d,
    ctx,
    (ctx.warmup + ctx.duration + 90) * 1000,
  );
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
    `  [${round}/${ctx.rounds}] ${d.server.padEnd(13)} ${d.topology.padEnd(2)} ` +
      `${fmtSize(size).padStart(6)}: ` +
      (problem ? `INVALID (${problem})` : `${fmt(r.deliveries_per_sec).padStart(10)} deliveries/s` +
        (d.topology === "2r"
          ? ` (A ${fmt(r.deliveries_a / r.seconds)}, B ${fmt(r.deliveries_b / r.seconds)})`
          : "") +
        `  server CPU ${cpus}  loadgen ${pct(r.loadgen_cpu)}` +
        (d.topology !== "1" ? `  redis ${pct(r.redis_cpu)}` : "") +
        (contended ? `  CONTENDED (other processes: ${fmt(other!, 2)} CPUs)` : "")),
  );
}

async function runLatency(
  results: ScaleoutResults,
  round: number,
  d: Deployment,
  redis: Redis | undefined,
  so: ScaleoutOptions,
  ctx: ScaleoutContext,
  latDuration: number,
): Promise<void> {
  const args = fanoutArgs(d, redis, so.latSize, so.subs);
  args.push(
    "--rate",
    String(so.rate),
    "--window",
    String(so.window),
    "--warmup",
    String(Math.min(ctx.warmup, 2)),
    "--duration",
    String(latDuration),
  );
  const { r, other, contended, attempts } = await measure(args, d, ctx, (latDuration + 90) * 1000);
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
  const us = (x: number | undefined) => x === undefined ? "—" : `${fmt(x / 1000, 2)} ms`;
  console.log(
    `  [${round}/${ctx.rounds}] ${d.server.padEnd(13)} latency @ ${so.rate}/s: ` +
      (problem
        ? `INVALID (${problem})`
        : `B p50 ${us(r.lat_b?.p50_us)} p99 ${us(r.lat_b?.p99_us)}; first on B p50 ${
          us(r.first_b?.p50_us)
        } p99 ${us(r.first_b?.p99_us)}; A p50 ${us(r.lat_a?.p50_us)} p99 ${
          us(r.lat_a?.p99_us)
        }  (server CPU A ${pct(r.server_cpu)} B ${pct(r.server2_cpu)})` +
          (contended ? `  CONTENDED (other processes: ${fmt(other!, 2)} CPUs)` : "")),
  );
}

// ---------------------------------------------------------------------------------------------
// reporting

/** The pointer from RESULTS.md to SCALEOUT.md (run.ts puts it in the RESULTS.md it writes). */
export const SCALEOUT_POINTER = [
  "## Scale-out (Redis backplane)",
  "",
  "Fan-out across instances through Redis, the backplane's cost for local traffic and the " +
  "cross-instance latency, edgews against Socket.IO with its Redis adapter: " +
  "[SCALEOUT.md](SCALEOUT.md) (`--suites scaleout`; that suite writes its own file, so a run " +
  "of it alone does not rewrite this one).",
  "",
].join("\n");

/** The samples measured without other work on the machine, or all of them if there are none. */
function preferClean<S extends { contended: boolean }>(samples: S[]): S[] {
  const clean = samples.filter((s) => !s.contended);
  return clean.length ? clean : samples;
}

function medianOf(xs: (number | undefined | null)[]): number | undefined {
  return median(xs.filter((x): x is number => typeof x === "number" && x >= 0));
}

function ratio(x: number | undefined, y: number | undefined): string {
  return x !== undefined && y !== undefined && y > 0 ? `${(x / y).toFixed(2)}×` : "—";
}

const label = (s: string) => `${SERVERS[s].label} (\`${s}\`)`;

function fanoutTable(res: ScaleoutResults): string {
  const m = res.medians;
  const cols = TOPOLOGIES.flatMap((t) => res.options.sizes.map((z) => ({ t, z })));
  const lines = [
    `| server | ${cols.map((c) => `${TOPOLOGY_LABEL[c.t]}, ${fmtSize(c.z)}`).join(" | ")} |`,
    `| --- | ${cols.map(() => "---:").join(" | ")} |`,
  ];
  for (const s of res.options.servers) {
    const cells = cols.map((c) => {
      const valid = res.samples.filter((x) =>
        x.server === s && x.topology === c.t && x.size === c.z && x.per_sec !== null
      );
      const onlyContended = valid.length > 0 && valid.every((x) => x.contended);
      return fmt(m[s]?.[c.t]?.[c.z]) + (onlyContended ? " ‡" : "");
    });
    lines.push(`| ${label(s)} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

function latencyTable(res: ScaleoutResults): string {
  const o = res.options;
  const lines = [
    "| server | B p50 | B p99 | B first p50 | B first p99 | A p50 | A p99 | A first p50 | " +
    "load | server CPU A / B |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const s of o.servers) {
    const ls = preferClean(res.latency.filter((x) => x.server === s && !x.problem));
    if (!res.latency.some((x) => x.server === s)) continue;
    const q = (k: string, p: string) => {
      const x = medianOf(ls.map((l) => l.raw[k]?.[p]));
      return x === undefined ? "—" : fmt(x / 1000, 2);
    };
    const cap = res.medians[s]?.["2r"]?.[o.latSize] ?? res.medians[s]?.["2r"]?.[o.sizes[0]];
    const load = cap ? pct((o.rate * o.subs) / cap) : "—";
    const cpu = `${pct(medianOf(ls.map((l) => l.raw.server_cpu)) ?? NaN)} / ${
      pct(medianOf(ls.map((l) => l.raw.server2_cpu)) ?? NaN)
    }`;
    lines.push(
      `| ${label(s)} | ${q("lat_b", "p50_us")} | ${q("lat_b", "p99_us")} | ` +
        `${q("first_b", "p50_us")} | ${q("first_b", "p99_us")} | ${q("lat_a", "p50_us")} | ` +
        `${q("lat_a", "p99_us")} | ${q("first_a", "p50_us")} | ${load} | ${cpu} |`,
    );
  }
  return lines.join("\n");
}

/** The fan-out and latency tables, for run.ts's console summary. */
export function scaleoutSummary(res: ScaleoutResults): string {
  return [
    "scaleout, deliveries/s:",
    fanoutTable(res),
    "",
    `scaleout, latency (ms) at ${res.options.rate} publishes/s:`,
    latencyTable(res),
  ].join("\n");
}

export function scaleoutMarkdown(res: ScaleoutResults, machine: Json, cmdline: string): string {
  const o = res.options;
  const m = res.medians;
  const servers = o.servers;
  const v = res.versions;
  const md: string[] = [];
  md.push(
    "# edgews scale-out benchmark",
    "",
    "Generated by `bench/run.ts --suites scaleout` (module `bench/scaleout.ts`) — do not edit by " +
      "hand. Re-run with:",
    "",
    "```sh",
    cmdline.replace(/^deno/, "node_modules/.bin/deno"),
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
      `${CONTENDED_CPUS} CPU is run again (at most ${MAX_ATTEMPTS} attempts); medians use the ` +
      "uncontended samples when there are any (‡ marks a cell that had none).",
    `- **Latency**: on 2 instances + Redis, ${o.rate} publishes/s (a timerfd; no window) of ` +
      `${o.latSize} B, i.e. ${fmt(o.rate * o.subs)} deliveries/s, meant to be well below every ` +
      "server's capacity (the *load* column shows the fraction; a run in which the load " +
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
    "",
  );

  // fan-out table
  const sizes = o.sizes;
  const cols = TOPOLOGIES.flatMap((t) => sizes.map((z) => ({ t, z })));
  md.push("## Fan-out deliveries/s", "");
  md.push(
    `Median of ${o.rounds} round(s). A/B interleaved: each round runs every server in turn ` +
      "(rotating which goes first), each through the three topologies.",
    "",
  );
  md.push(fanoutTable(res), "");

  md.push("### Two instances ÷ one instance", "");
  md.push(
    `| server | ${sizes.map((z) => `2 inst. ÷ 1 inst., ${fmtSize(z)}`).join(" | ")} | ${
      sizes.map((z) => `2 inst. ÷ 1 inst. + Redis, ${fmtSize(z)}`).join(" | ")
    } |`,
    `| --- | ${sizes.map(() => "---:").join(" | ")} | ${sizes.map(() => "---:").join(" | ")} |`,
  );
  for (const s of servers) {
    const a = sizes.map((z) => ratio(m[s]?.["2r"]?.[z], m[s]?.["1"]?.[z]));
    const b = sizes.map((z) => ratio(m[s]?.["2r"]?.[z], m[s]?.["1r"]?.[z]));
    md.push(`| ${label(s)} | ${a.join(" | ")} | ${b.join(" | ")} |`);
  }
  md.push("");

  if (servers.includes(ANCHOR)) {
    md.push(`### edgews ÷ Socket.IO (target ≥ ${TARGET_VS_ANCHOR}×)`, "");
    md.push(
      `| ratio | ${cols.map((c) => `${TOPOLOGY_LABEL[c.t]}, ${fmtSize(c.z)}`).join(" | ")} |`,
      `| --- | ${cols.map(() => "---:").join(" | ")} |`,
    );
    for (const s of servers.filter((x) => SERVERS[x].edgews)) {
      const cells = cols.map((c) => {
        const x = m[s]?.[c.t]?.[c.z], y = m[ANCHOR]?.[c.t]?.[c.z];
        if (x === undefined || y === undefined || y <= 0) return "—";
        const r = x / y;
        return `${r.toFixed(2)}×${r >= TARGET_VS_ANCHOR ? "" : " (below)"}`;
      });
      md.push(`| \`${s}\` ÷ \`${ANCHOR}\` | ${cells.join(" | ")} |`);
    }
    md.push("");
  }

  md.push("## Backplane cost for local traffic", "");
  md.push(
    "One instance, every subscriber local: deliveries/s with Redis configured ÷ without. " +
      "(With Redis each publish is also sent to Redis, which hands it back to the same " +
      "instance, whose backplane drops it as its own.)",
    "",
  );
  md.push(
    `| server | ${sizes.map((z) => `${fmtSize(z)} without | with Redis | ratio`).join(" | ")} |`,
    `| --- | ${sizes.map(() => "---: | ---: | ---:").join(" | ")} |`,
  );
  for (const s of servers) {
    const cells = sizes.map((z) => {
      const a = m[s]?.["1"]?.[z], b = m[s]?.["1r"]?.[z];
      return `${fmt(a)} | ${fmt(b)} | ${ratio(b, a)}`;
    });
    md.push(`| ${label(s)} | ${cells.join(" | ")} |`);
  }
  md.push("");

  // latency
  md.push("## Cross-instance latency", "");
  md.push(
    `2 instances + Redis, ${o.rate} publishes/s × ${o.subs} subscribers ` +
      `(${fmt(o.rate * o.subs)} deliveries/s), ${fmtSize(o.latSize)} messages, ` +
      `${o.latDuration ?? 2 * o.duration} s measured per round; medians over ${o.rounds} ` +
      "round(s) of each round's percentile. Milliseconds. *Load* = this rate ÷ the server's " +
      "own 2-instance 32 B throughput above.",
    "",
  );
  md.push(latencyTable(res), "");

  // CPU
  md.push("## CPU use", "");
  md.push(
    "Medians over the rounds (of the samples the medians above use), in CPUs (1 = one core " +
      "for the whole measured time; from /proc). *Machine* = busy time machine-wide " +
      "(/proc/stat, softirq included), out of 2; *other* = machine − (servers + load " +
      "generator + Redis), i.e. processes that are not part of the benchmark. " +
      "*Deliveries per server CPU-second* = deliveries/s ÷ the servers' CPU (both instances " +
      "summed): how efficiently the servers fan out, independent of how much of the machine " +
      "they got.",
    "",
  );
  md.push(
    "| server | topology | size | servers (A + B) | load generator | Redis | machine | other | " +
      "deliveries per server CPU-second |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const s of servers) {
    for (const t of TOPOLOGIES) {
      for (const z of sizes) {
        const xs = preferClean(
          res.samples.filter((x) =>
            x.server === s && x.topology === t && x.size === z && !x.problem
          ),
        );
        if (xs.length === 0) continue;
        const cpu = (f: (x: ScaleoutSample) => number | null | undefined) =>
          fmt(medianOf(xs.map(f)), 2);
        const eff = medianOf(xs.map((x) => x.per_sec! / Math.max(1e-9, x.server_cpu)));
        md.push(
          `| \`${s}\` | ${TOPOLOGY_LABEL[t]} | ${fmtSize(z)} | ${cpu((x) => x.server_cpu)} | ${
            cpu((x) => x.raw.loadgen_cpu)
          } | ${t === "1" ? "—" : cpu((x) => x.raw.redis_cpu)} | ${
            cpu((x) => x.raw.machine_busy_cpus)
          } | ${cpu((x) => x.other_cpu)} | ${fmt(eff)} |`,
        );
      }
    }
  }
  md.push("");

  const invalid = [
    ...res.samples.filter((x) => x.problem).map((x) =>
      `- round ${x.round}, \`${x.server}\`, ${TOPOLOGY_LABEL[x.topology]}, ${
        fmtSize(x.size)
      }: ${x.problem}`
    ),
    ...res.latency.filter((x) => x.problem).map((x) =>
      `- round ${x.round}, \`${x.server}\`, latency: ${x.problem}`
    ),
  ];
  if (invalid.length) md.push("## Invalid runs (left out of the medians)", "", ...invalid, "");
  const skipped = Object.entries(res.skipped);
  if (skipped.length) {
    md.push("## Not measured", "");
    for (const [k, why] of skipped) md.push(`- \`${k}\`: ${why.split("\n")[0]}`);
    md.push("");
  }
  return md.join("\n");
}

/**
 * Writes bench/SCALEOUT.md and bench/results/scaleout.json, and makes sure RESULTS.md links to
 * SCALEOUT.md (appending run.ts's pointer section to a RESULTS.md written before it had one).
 */
export async function writeScaleout(
  res: ScaleoutResults,
  machine: Json,
  cmdline: string,
): Promise<void> {
  await Deno.mkdir(`${ROOT}/bench/results`, { recursive: true });
  await Deno.writeTextFile(
    SCALEOUT_JSON,
    JSON.stringify({ machine, command: cmdline, ...res }, null, 2) + "\n",
  );
  await Deno.writeTextFile(SCALEOUT_MD, scaleoutMarkdown(res, machine, cmdline));
  const resultsMd = `${ROOT}/bench/RESULTS.md`;
  try {
    const text = await Deno.readTextFile(resultsMd);
    if (!text.includes("SCALEOUT.md")) {
      await Deno.writeTextFile(resultsMd, text.replace(/\n*$/, "\n\n") + SCALEOUT_POINTER);
    }
  } catch { /* no RESULTS.md yet: the next full run writes it with the pointer */ }
  await output([DENO, "fmt", "--quiet", SCALEOUT_MD, resultsMd]);
  console.log("\nwrote bench/SCALEOUT.md, bench/results/scaleout.json");
}

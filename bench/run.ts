// edgews benchmark runner.
//
//   node_modules/.bin/deno run -A bench/run.ts [options]
//
// Runs every echo server in bench/servers/ against the same load from our raw-TCP load generator
// (bench/loadgen/loadgen.c, compiled here with gcc on first use), A/B interleaved: for each round,
// each server in turn. Servers are pinned with `taskset -c 0`, the load generator with
// `taskset -c 1`. Prints medians and the ratios of edgews (on Deno, on Bun) to each anchor, and
// writes bench/results/latest.json, bench/RESULTS.md and bench/results.svg.
//
// Suites (--suites, comma separated; default all):
//   throughput  echo messages/s, N connections x W messages in flight, per message size
//   memory      server RSS growth per idle connection with 10,000 open WebSockets
//   handshake   connect + upgrade + close handshake cycles per second
//   broadcast   fan-out: one published message to 1,000 subscribers, deliveries/s
//   codec       parse / encode / unmask microbenchmarks in GB/s, on Deno and on Bun
//   scaleout    fan-out across instances through Redis, edgews vs Socket.IO (bench/scaleout.ts;
//               writes bench/SCALEOUT.md; its --so-* options are listed below)
//
// Options:
//   --servers a,b       subset of: edgews-deno, edgews-bun, deno-native, bun-native, ws-node
//   --sizes 32,1k,...   message sizes (default 32,1k,16k,1m)
//   --rounds N          rounds per measurement (default 3)
//   --warmup S          warm-up seconds per measurement (default 2)
//   --duration S        measured seconds per measurement (default 5)
//   --conns N           connections (default 50)        --window W   in flight per conn (20)
//   --big-conns N       connections for sizes >= 1 MiB (default 10)
//   --big-window W      in flight per conn for sizes >= 1 MiB (default 2)
//   --text              send text frames instead of binary
//   --idle-conns N      connections for the memory suite (default 10000)
//   --hs-concurrency N  parallel handshakes for the handshake suite (default 16)
//   --bc-subs N         subscribers for the broadcast suite (default 1000)
//   --bc-window W       broadcasts in flight for the broadcast suite (default 32)
//   --bc-sizes 32,1k    message sizes for the broadcast suite (default 32,1k)
//   --no-check          skip the check that the load generator saturates Bun's native server
//   --no-write          do not write results/latest.json, RESULTS.md, results.svg
//   --idle-wait S       before each measurement wait up to S s for the machine to idle (60)
//   --quick             rounds 1, warm-up 1 s, measure 2 s, sizes 32,16k, idle-conns 2000
//
// Examples:
//   deno run -A bench/run.ts --quick
//   deno run -A bench/run.ts --suites throughput --servers edgews-bun,bun-native --sizes 32

import {
  defaultScaleoutOptions,
  parseScaleoutArg,
  SCALEOUT_HELP,
  SCALEOUT_POINTER,
  scaleoutSuite,
  scaleoutSummary,
  writeScaleout,
} from "./scaleout.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const BIN = `${ROOT}/node_modules/.bin`;
const DENO = Deno.execPath();
const BUN = `${BIN}/bun`;
const LOADGEN_SRC = `${ROOT}/bench/loadgen/loadgen.c`;
const LOADGEN = `${ROOT}/bench/.build/loadgen`;

// `cmd` runs the echo server; `broadcast` the fan-out server of the broadcast suite (subscribers
// connect to /sub, every message received is published to all of them).
type ServerSpec = { label: string; cmd: string[]; broadcast: string[] };
const SERVERS: Record<string, ServerSpec> = {
  "edgews-deno": {
    label: "edgews on Deno",
    cmd: [DENO, "run", "-A", "bench/servers/edgews.ts"],
    broadcast: [DENO, "run", "-A", "bench/servers/edgews_broadcast.ts"],
  },
  "edgews-bun": {
    label: "edgews on Bun",
    cmd: [BUN, "bench/servers/edgews.ts"],
    broadcast: [BUN, "bench/servers/edgews_broadcast.ts"],
  },
  "deno-native": {
    label: "Deno.upgradeWebSocket",
    cmd: [DENO, "run", "-A", "bench/servers/deno_native.ts"],
    broadcast: [DENO, "run", "-A", "bench/servers/deno_native_broadcast.ts"],
  },
  "bun-native": {
    label: "Bun.serve websocket",
    cmd: [BUN, "bench/servers/bun_native.ts"],
    broadcast: [BUN, "bench/servers/bun_native_broadcast.ts"],
  },
  "ws-node": {
    label: "ws on Node",
    cmd: ["node", "bench/servers/ws_node.mjs"],
    broadcast: ["node", "bench/servers/ws_node_broadcast.mjs"],
  },
};
const EDGEWS = ["edgews-deno", "edgews-bun"];
const ANCHORS = ["deno-native", "bun-native", "ws-node"];

// Targets from the project brief (ratio of edgews to an anchor at a message size).
const TARGETS: { subject: string; anchor: string; size: number; min: number }[] = [
  { subject: "edgews-deno", anchor: "deno-native", size: 32, min: 4 },
  { subject: "edgews-deno", anchor: "deno-native", size: 16384, min: 1.2 },
  { subject: "edgews-bun", anchor: "bun-native", size: 32, min: 0.6 },
  { subject: "edgews-bun", anchor: "bun-native", size: 16384, min: 0.9 },
  { subject: "edgews-deno", anchor: "ws-node", size: 32, min: 2.5 },
  { subject: "edgews-deno", anchor: "ws-node", size: 16384, min: 2.5 },
  { subject: "edgews-bun", anchor: "ws-node", size: 32, min: 2.5 },
  { subject: "edgews-bun", anchor: "ws-node", size: 16384, min: 2.5 },
];

// ---------------------------------------------------------------------------------------------
// options

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmM]?)i?[bB]?$/.exec(s.trim());
  if (!m) throw new Error(`bad size: ${s}`);
  const mult = m[2] === "" ? 1 : m[2].toLowerCase() === "k" ? 1024 : 1024 * 1024;
  return Math.round(Number(m[1]) * mult);
}

function parseArgs(argv: string[]) {
  const o = {
    suites: ["throughput", "memory", "handshake", "broadcast", "codec", "scaleout"],
    servers: Object.keys(SERVERS),
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
    scaleout: defaultScaleoutOptions(),
  };
  const list = (v: string) => v.split(",").map((x) => x.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case "--suites":
        o.suites = list(v());
        break;
      case "--servers":
        o.servers = list(v());
        for (const s of o.servers) if (!SERVERS[s]) throw new Error(`unknown server: ${s}`);
        break;
      case "--sizes":
        o.sizes = list(v()).map(parseSize);
        break;
      case "--rounds":
        o.rounds = Number(v());
        break;
      case "--warmup":
        o.warmup = Number(v());
        break;
      case "--duration":
        o.duration = Number(v());
        break;
      case "--conns":
        o.conns = Number(v());
        break;
      case "--window":
        o.window = Number(v());
        break;
      case "--big-conns":
        o.bigConns = Number(v());
        break;
      case "--big-window":
        o.bigWindow = Number(v());
        break;
      case "--text":
        o.text = true;
        break;
      case "--idle-conns":
        o.idleConns = Number(v());
        break;
      case "--hs-concurrency":
        o.hsConcurrency = Number(v());
        break;
      case "--bc-subs":
        o.bcSubs = Number(v());
        break;
      case "--bc-window":
        o.bcWindow = Number(v());
        break;
      case "--bc-sizes":
        o.bcSizes = list(v()).map(parseSize);
        break;
      case "--no-check":
        o.check = false;
        break;
      case "--no-write":
        o.write = false;
        break;
      case "--idle-wait":
        o.idleWait = Number(v());
        break;
      case "--quick":
        o.rounds = 1;
        o.warmup = 1;
        o.duration = 2;
        o.sizes = [32, 16384];
        o.idleConns = 2000;
        break;
      case "--help":
      case "-h": {
        const src = Deno.readTextFileSync(new URL(import.meta.url));
        console.log(src.split("\n\n")[0].replace(/^\/\/ ?/gm, ""));
        console.log(SCALEOUT_HELP);
        Deno.exit(0);
        break;
      }
      default:
        if (!a.startsWith("--so-")) throw new Error(`unknown option: ${a} (try --help)`);
        parseScaleoutArg(o.scaleout, a, v(), parseSize);
    }
  }
  return o;
}

type Options = ReturnType<typeof parseArgs>;

// ---------------------------------------------------------------------------------------------
// helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fmtSize(n: number): string {
  if (n >= 1048576 && n % 1048576 === 0) return `${n / 1048576} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

function fmtNum(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return "—";
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function run(cmd: string[], opts: { cwd?: string } = {}): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: opts.cwd ?? ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`${cmd.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function tryRun(cmd: string[]): Promise<string> {
  try {
    return (await run(cmd)).trim();
  } catch {
    return "unknown";
  }
}

async function buildLoadgen(): Promise<void> {
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

async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await sleep(10);
  return port;
}

async function rssBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

// Fraction of all CPUs busy over `ms` (from /proc/stat), 0..1.
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

// Other work on this 2-core machine (tests, builds) distorts results: before each measurement,
// wait (up to --idle-wait seconds) until less than 10% of the CPUs are busy.
let idleWaitNoted = false;
async function waitIdle(o: Options): Promise<number> {
  const deadline = Date.now() + o.idleWait * 1000;
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

// ---------------------------------------------------------------------------------------------
// servers

class Server {
  child!: Deno.ChildProcess;
  port = 0;
  pid = 0;
  exited = false;
  output = "";

  constructor(readonly name: string, readonly variant: "echo" | "broadcast" = "echo") {}

  get alive(): boolean {
    return !this.exited;
  }

  // Start the server pinned to CPU 0 with the open-files limit raised to the hard limit.
  // Resolves once it prints `listening <port>`; throws (with its output) if it exits or stalls.
  async start(timeoutMs = 20000): Promise<void> {
    this.port = await freePort();
    const spec = SERVERS[this.name];
    const cmd = this.variant === "broadcast" ? spec.broadcast : spec.cmd;
    this.child = new Deno.Command("bash", {
      args: ["-c", 'ulimit -n "$(ulimit -Hn)"; exec taskset -c 0 "$@"', "bash", ...cmd],
      cwd: ROOT,
      env: { PORT: String(this.port), NODE_ENV: "production" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.child.pid;
    this.child.status.then(() => (this.exited = true));
    let ready: (() => void) | undefined;
    const readyP = new Promise<void>((r) => (ready = r));
    const pump = async (stream: ReadableStream<Uint8Array>, watch: boolean) => {
      const dec = new TextDecoder();
      for await (const chunk of stream) {
        this.output = (this.output + dec.decode(chunk, { stream: true })).slice(-4000);
        if (watch && /(^|\n)listening \d+/.test(this.output)) ready?.();
      }
    };
    pump(this.child.stdout, true).catch(() => {});
    pump(this.child.stderr, false).catch(() => {});
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
        `${result} before listening: ${err.trim()}\n    ${lines.slice(-8).join("\n    ")}`,
      );
    }
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

// ---------------------------------------------------------------------------------------------
// load generator

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

async function loadgen(args: string[], timeoutMs: number): Promise<Json> {
  const child = new Deno.Command("taskset", {
    args: ["-c", "1", LOADGEN, ...args],
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
    return { error: `loadgen produced no result: ${new TextDecoder().decode(out.stderr)}` };
  }
  return JSON.parse(line);
}

function loadFor(o: Options, size: number) {
  return size >= 1048576 ? { conns: o.bigConns, window: o.bigWindow } : {
    conns: o.conns,
    window: o.window,
  };
}

async function echoRun(o: Options, srv: Server, size: number, warmup = o.warmup, dur = o.duration) {
  const { conns, window } = loadFor(o, size);
  const args = [
    "echo",
    "--port",
    String(srv.port),
    "--size",
    String(size),
    "--conns",
    String(conns),
    "--window",
    String(window),
    "--warmup",
    String(warmup),
    "--duration",
    String(dur),
    "--server-pid",
    String(srv.pid),
    "--timeout",
    "10",
  ];
  if (o.text) args.push("--text");
  const busyBefore = await waitIdle(o);
  const r = await loadgen(args, (warmup + dur + 30) * 1000);
  r.machine_busy_before = busyBefore;
  return r;
}

function echoProblem(r: Json, conns: number): string | undefined {
  if (r.error) return r.error;
  if (r.conns_alive !== conns) return `${conns - r.conns_alive} connections died`;
  if (r.errors > 0) return `${r.errors} errors`;
  if (r.bad_len > 0) return `${r.bad_len} echoes with the wrong length`;
  if (r.messages === 0) return "no messages echoed";
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// suites

type Sample = {
  round: number;
  server: string;
  size: number;
  msgs_per_sec: number | null;
  server_cpu: number;
  loadgen_cpu: number;
  problem?: string;
  raw: Json;
};

const skipped = new Map<string, string>();

async function startOrSkip(
  name: string,
  variant: "echo" | "broadcast" = "echo",
): Promise<Server | undefined> {
  const key = variant === "echo" ? name : `${name} (broadcast)`;
  if (skipped.has(key)) return undefined;
  const srv = new Server(name, variant);
  try {
    await srv.start();
    return srv;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    skipped.set(key, msg);
    console.log(`  SKIP ${key}: server failed to start; skipping it for the rest of the run.`);
    console.log(`    ${msg}`);
    return undefined;
  }
}

async function saturationCheck(o: Options): Promise<Json | undefined> {
  console.log("\n== saturation check: load generator vs Bun's native server, 32 B ==");
  const srv = await startOrSkip("bun-native");
  if (!srv) return undefined;
  try {
    const r = await echoRun(o, srv, 32, 1, 3);
    const problem = echoProblem(r, o.conns);
    if (problem) {
      console.log(`  WARNING: check run failed: ${problem}`);
      return { ...r, problem };
    }
    const ok = r.loadgen_cpu < 0.9 && r.server_cpu > 0.9;
    console.log(
      `  bun-native: ${fmtNum(r.msgs_per_sec)} msg/s, server CPU ${fmtNum(r.server_cpu * 100)}%,` +
        ` load generator CPU ${fmtNum(r.loadgen_cpu * 100)}%` +
        (ok ? "  -> OK, the server is the bottleneck" : ""),
    );
    if (!ok) {
      console.log(
        r.loadgen_cpu >= 0.9
          ? "  WARNING: the load generator is CPU-bound against Bun's native server; numbers " +
            "near the top may be capped by the load generator."
          : "  WARNING: neither the server nor the load generator used a full core: the " +
            "machine is busy with other work (or the kernel is the limit); results are unreliable.",
      );
    }
    return { ...r, saturated: ok };
  } finally {
    await srv.stop();
  }
}

async function throughputSuite(o: Options): Promise<Sample[]> {
  console.log(
    `\n== throughput: echo, ${o.conns} conns x ${o.window} in flight` +
      ` (>= 1 MiB: ${o.bigConns} x ${o.bigWindow}), ${o.warmup} s warm-up + ${o.duration} s,` +
      ` ${o.rounds} round(s), ${o.text ? "text" : "binary"} frames ==`,
  );
  const samples: Sample[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    // Rotate the starting server each round so no server always runs first.
    const order = o.servers.map((_, i) => o.servers[(i + round - 1) % o.servers.length]);
    for (const name of order) {
      let srv = await startOrSkip(name);
      if (!srv) continue;
      try {
        for (const size of o.sizes) {
          if (!srv.alive) {
            console.log(`  ${name} died; restarting it`);
            srv = await startOrSkip(name);
            if (!srv) break;
          }
          const r = await echoRun(o, srv, size);
          const problem = echoProblem(r, loadFor(o, size).conns);
          const s: Sample = {
            round,
            server: name,
            size,
            msgs_per_sec: problem ? null : r.msgs_per_sec,
            server_cpu: r.server_cpu,
            loadgen_cpu: r.loadgen_cpu,
            problem,
            raw: r,
          };
          samples.push(s);
          const flag = problem
            ? ""
            : r.loadgen_cpu > 0.95
            ? "  (load generator CPU-bound!)"
            : r.server_cpu < 0.85
            ? "  (server below 85% CPU: contention?)"
            : "";
          console.log(
            `  [${round}/${o.rounds}] ${name.padEnd(12)} ${fmtSize(size).padStart(7)}: ` +
              (problem
                ? `INVALID (${problem})`
                : `${fmtNum(r.msgs_per_sec).padStart(10)} msg/s  server CPU ${
                  fmtNum(r.server_cpu * 100)
                }%  loadgen CPU ${fmtNum(r.loadgen_cpu * 100)}%${flag}`),
          );
        }
      } finally {
        await srv?.stop();
      }
    }
  }
  return samples;
}

type MemSample = { round: number; server: string; bytes_per_conn: number | null; raw: Json };

async function memorySuite(o: Options): Promise<MemSample[]> {
  console.log(`\n== memory per idle connection: ${o.idleConns} open WebSockets ==`);
  const out: MemSample[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const name of o.servers) {
      const srv = await startOrSkip(name);
      if (!srv) continue;
      try {
        await sleep(500);
        await waitIdle(o);
        const before = await rssBytes(srv.pid);
        const child = new Deno.Command("taskset", {
          args: [
            "-c",
            "1",
            LOADGEN,
            "hold",
            "--port",
            String(srv.port),
            "--conns",
            String(o.idleConns),
            "--concurrency",
            "256",
            "--timeout",
            "60",
          ],
          cwd: ROOT,
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        while (!/held \d+\n/.test(text)) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
        }
        const held = Number(/held (\d+)/.exec(text)?.[1] ?? 0);
        await sleep(1500); // let the server settle
        const after = srv.alive ? await rssBytes(srv.pid) : NaN;
        await child.stdin.close();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
        }
        await child.status;
        await child.stderr.cancel();
        const line = text.split("\n").findLast((l) => l.startsWith("{"));
        const raw: Json = line ? JSON.parse(line) : {};
        raw.rss_before = before;
        raw.rss_after = after;
        const valid = held === o.idleConns && raw.still_open === o.idleConns && !isNaN(after);
        const per = valid ? (after - before) / held : null;
        out.push({ round, server: name, bytes_per_conn: per, raw });
        console.log(
          `  [${round}/${o.rounds}] ${name.padEnd(12)} ` +
            (valid
              ? `${fmtNum(per! / 1024, 2)} KiB/conn  (RSS ${fmtNum(before / 1048576, 1)} -> ${
                fmtNum(after / 1048576, 1)
              } MiB)`
              : `INVALID (held ${held}, still open ${raw.still_open ?? "?"}, server ${
                srv.alive ? "alive" : "died"
              })`),
        );
      } finally {
        await srv.stop();
      }
    }
  }
  return out;
}

type HsSample = { round: number; server: string; per_sec: number | null; raw: Json };

async function handshakeSuite(o: Options): Promise<HsSample[]> {
  console.log(
    `\n== handshakes: connect + upgrade + close, ${o.hsConcurrency} in parallel, ` +
      `${o.warmup} s warm-up + ${o.duration} s ==`,
  );
  const out: HsSample[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const name of o.servers) {
      const srv = await startOrSkip(name);
      if (!srv) continue;
      try {
        await waitIdle(o);
        const r = await loadgen([
          "handshake",
          "--port",
          String(srv.port),
          "--concurrency",
          String(o.hsConcurrency),
          "--warmup",
          String(o.warmup),
          "--duration",
          String(o.duration),
          "--server-pid",
          String(srv.pid),
        ], (o.warmup + o.duration + 30) * 1000);
        const valid = !r.error && r.cycles > 0 && srv.alive;
        out.push({ round, server: name, per_sec: valid ? r.cycles_per_sec : null, raw: r });
        console.log(
          `  [${round}/${o.rounds}] ${name.padEnd(12)} ` +
            (valid
              ? `${fmtNum(r.cycles_per_sec).padStart(8)} handshakes/s  (errors ${r.errors}, ` +
                `server CPU ${fmtNum(r.server_cpu * 100)}%, loadgen CPU ${
                  fmtNum(r.loadgen_cpu * 100)
                }%)`
              : `INVALID (${r.error ?? `errors ${r.errors}`})`),
        );
      } finally {
        await srv.stop();
      }
    }
  }
  return out;
}

// Broadcast fan-out: the load generator holds `--bc-subs` subscriber connections (path /sub) and
// one publisher connection (path /pub). Each server publishes every message the publisher sends
// to all subscribers: edgews and Bun with `server.publish(topic, data)` (one encoded frame for
// all), ws and Deno by looping over their sockets (a frame encoded per send, as their APIs
// force). The publisher keeps at most `--bc-window` broadcasts in flight, counted by deliveries
// (a trigger goes out only while fewer than window x subscribers deliveries are outstanding), so
// the pace is set by how fast the server fans out, not by a timer. Reported: deliveries/s,
// i.e. messages received summed over the subscribers.

type BcSample = {
  round: number;
  server: string;
  size: number;
  per_sec: number | null;
  server_cpu: number;
  loadgen_cpu: number;
  problem?: string;
  raw: Json;
};

function broadcastProblem(r: Json, subs: number): string | undefined {
  if (r.error) return r.error;
  if (r.subscribers_alive !== subs) return `${subs - r.subscribers_alive} subscribers died`;
  if (!r.publisher_alive) return "the publisher connection died";
  if (r.errors > 0) return `${r.errors} errors`;
  if (r.bad_len > 0) return `${r.bad_len} deliveries with the wrong length`;
  if (r.deliveries === 0) return "no deliveries";
  // A server may drop a delivery to a subscriber over its backpressure limit; more than 0.1%
  // means the numbers are not comparable.
  if (r.missing > 0.001 * r.deliveries) return `${r.missing} deliveries missing`;
  return undefined;
}

async function broadcastSuite(o: Options): Promise<BcSample[]> {
  console.log(
    `\n== broadcast fan-out: ${o.bcSubs} subscribers, ${o.bcWindow} broadcasts in flight, ` +
      `${o.warmup} s warm-up + ${o.duration} s, ${o.rounds} round(s) ==`,
  );
  const out: BcSample[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    const order = o.servers.map((_, i) => o.servers[(i + round - 1) % o.servers.length]);
    for (const name of order) {
      let srv = await startOrSkip(name, "broadcast");
      if (!srv) continue;
      try {
        for (const size of o.bcSizes) {
          if (!srv.alive) {
            console.log(`  ${name} died; restarting it`);
            srv = await startOrSkip(name, "broadcast");
            if (!srv) break;
          }
          const args = [
            "broadcast",
            "--port",
            String(srv.port),
            "--size",
            String(size),
            "--conns",
            String(o.bcSubs),
            "--window",
            String(o.bcWindow),
            "--warmup",
            String(o.warmup),
            "--duration",
            String(o.duration),
            "--server-pid",
            String(srv.pid),
            "--timeout",
            "20",
          ];
          if (o.text) args.push("--text");
          await waitIdle(o);
          const r = await loadgen(args, (o.warmup + o.duration + 60) * 1000);
          const problem = broadcastProblem(r, o.bcSubs);
          out.push({
            round,
            server: name,
            size,
            per_sec: problem ? null : r.deliveries_per_sec,
            server_cpu: r.server_cpu,
            loadgen_cpu: r.loadgen_cpu,
            problem,
            raw: r,
          });
          const flag = problem
            ? ""
            : r.loadgen_cpu > 0.95
            ? "  (load generator CPU-bound!)"
            : r.server_cpu < 0.85
            ? "  (server below 85% CPU: contention?)"
            : "";
          console.log(
            `  [${round}/${o.rounds}] ${name.padEnd(12)} ${fmtSize(size).padStart(7)}: ` +
              (problem
                ? `INVALID (${problem})`
                : `${fmtNum(r.deliveries_per_sec).padStart(10)} deliveries/s  (${
                  fmtNum(r.broadcasts_per_sec)
                } broadcasts/s, missing ${r.missing})  server CPU ${
                  fmtNum(r.server_cpu * 100)
                }%  loadgen CPU ${fmtNum(r.loadgen_cpu * 100)}%${flag}`),
          );
        }
      } finally {
        await srv?.stop();
      }
    }
  }
  return out;
}

// Codec microbenchmarks: bench/codec.ts on Deno and on Bun, pinned to CPU 0, one process per op
// (so ops do not share JIT type feedback), once per round; medians per case.
const CODEC_OP_LIST = ["parse", "parse-owned", "encode", "encode-masked", "unmask"];
type CodecSample = { round: number; runtime: string; op: string; size: number; gb_per_sec: number };

async function codecSuite(o: Options): Promise<{ samples: CodecSample[]; versions: Json }> {
  console.log(
    `\n== codec microbenchmarks (bench/codec.ts): GB/s of payload, Deno and Bun, ` +
      `${o.rounds} round(s) ==`,
  );
  const runtimes: [string, string[]][] = [
    ["deno", [DENO, "run", "-A", "bench/codec.ts"]],
    ["bun", [BUN, "bench/codec.ts"]],
  ];
  const samples: CodecSample[] = [];
  const versions: Json = {};
  for (let round = 1; round <= o.rounds; round++) {
    for (const [rt, cmd] of runtimes) {
      for (const op of CODEC_OP_LIST) {
        await waitIdle(o);
        try {
          const text = await run(["taskset", "-c", "0", ...cmd, "--json", "--ops", op]);
          const line = text.trim().split("\n").findLast((l) => l.startsWith("{"));
          const r = JSON.parse(line ?? "{}");
          versions[rt] = r.version;
          for (const x of r.results ?? []) {
            samples.push({ round, runtime: rt, op: x.op, size: x.size, gb_per_sec: x.gb_per_sec });
          }
          console.log(
            `  [${round}/${o.rounds}] ${rt.padEnd(5)} ${op.padEnd(14)} ` +
              (r.results ?? []).map((x: Json) => `${fmtSize(x.size)} ${x.gb_per_sec.toFixed(2)}`)
                .join("  ") +
              "  GB/s",
          );
        } catch (e) {
          console.log(`  [${round}/${o.rounds}] ${rt} ${op}: FAILED ${String(e).split("\n")[0]}`);
        }
      }
    }
  }
  return { samples, versions };
}

// ---------------------------------------------------------------------------------------------
// reporting

type Medians = Record<string, Record<number, number | undefined>>;

/**
 * Median per server and size of `rate` (messages or deliveries per second). Samples where the
 * server did not get (nearly) a full core measured contention from other work on the machine, not
 * the server: they are left out when clean samples exist.
 */
function mediansBy<S extends { server: string; size: number; server_cpu: number }>(
  samples: S[],
  rate: (sample: S) => number | null,
): Medians {
  const m: Medians = {};
  for (const s of samples) m[s.server] ??= {};
  for (const server of Object.keys(m)) {
    for (const size of new Set(samples.map((s) => s.size))) {
      const valid = samples.filter((s) =>
        s.server === server && s.size === size && rate(s) !== null
      );
      const clean = valid.filter((s) => s.server_cpu >= 0.85);
      m[server][size] = median((clean.length ? clean : valid).map((s) => rate(s)!));
    }
  }
  return m;
}

function throughputMedians(samples: Sample[]): Medians {
  return mediansBy(samples, (s) => s.msgs_per_sec);
}

function throughputTable(o: Options, m: Medians, samples: Sample[]): string {
  const servers = o.servers.filter((s) => m[s]);
  const sizes = o.sizes;
  const lines: string[] = [];
  lines.push(`| server | ${sizes.map((s) => `${fmtSize(s)} msg/s`).join(" | ")} |`);
  lines.push(`| --- | ${sizes.map(() => "---:").join(" | ")} |`);
  for (const s of servers) {
    const cells = sizes.map((z) => {
      const v = m[s][z];
      const maxLg = Math.max(
        ...samples.filter((x) => x.server === s && x.size === z).map((x) => x.loadgen_cpu ?? 0),
      );
      const minSrv = Math.min(
        ...samples.filter((x) => x.server === s && x.size === z && x.msgs_per_sec !== null)
          .map((x) => x.server_cpu ?? 1),
      );
      return v === undefined
        ? "—"
        : fmtNum(v) + (maxLg > 0.95 ? " ⚠" : "") + (minSrv < 0.85 ? " †" : "");
    });
    lines.push(`| ${SERVERS[s].label} (\`${s}\`) | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

function ratioTable(o: Options, m: Medians): string {
  const lines: string[] = [];
  const sizes = o.sizes;
  lines.push(`| ratio | ${sizes.map(fmtSize).join(" | ")} |`);
  lines.push(`| --- | ${sizes.map(() => "---:").join(" | ")} |`);
  let any = false;
  for (const e of EDGEWS) {
    if (!m[e]) continue;
    for (const a of ANCHORS) {
      if (!m[a]) continue;
      any = true;
      const cells = sizes.map((z) => {
        const x = m[e][z], y = m[a][z];
        return x !== undefined && y !== undefined && y > 0 ? `${(x / y).toFixed(2)}×` : "—";
      });
      lines.push(`| \`${e}\` / \`${a}\` | ${cells.join(" | ")} |`);
    }
  }
  return any ? lines.join("\n") : "";
}

function targetTable(m: Medians): string {
  const lines = ["| target | measured | status |", "| --- | ---: | --- |"];
  let any = false;
  for (const t of TARGETS) {
    const x = m[t.subject]?.[t.size], y = m[t.anchor]?.[t.size];
    if (x === undefined || y === undefined) continue;
    any = true;
    const r = x / y;
    lines.push(
      `| \`${t.subject}\` ≥ ${t.min}× \`${t.anchor}\` at ${fmtSize(t.size)} | ${r.toFixed(2)}× | ${
        r >= t.min ? "met" : "NOT met"
      } |`,
    );
  }
  return any ? lines.join("\n") : "";
}

function simpleTable(
  o: Options,
  title: string,
  unit: string,
  rows: { server: string; value: number | null }[],
  digits: number,
): string {
  const lines = [`| server | ${title} |`, "| --- | ---: |"];
  for (const s of o.servers) {
    const xs = rows.filter((r) => r.server === s).map((r) => r.value).filter((x): x is number =>
      x !== null
    );
    if (rows.every((r) => r.server !== s)) continue;
    const v = median(xs);
    lines.push(
      `| ${SERVERS[s].label} (\`${s}\`) | ${v === undefined ? "—" : fmtNum(v, digits)}${unit} |`,
    );
  }
  return lines.join("\n");
}

function broadcastMedians(samples: BcSample[]): Medians {
  return mediansBy(samples, (s) => s.per_sec);
}

function broadcastTable(o: Options, m: Medians, samples: BcSample[]): string {
  const servers = o.servers.filter((s) => m[s]);
  const lines: string[] = [];
  lines.push(
    `| server | fan-out | ${o.bcSizes.map((z) => `${fmtSize(z)} deliveries/s`).join(" | ")} |`,
  );
  lines.push(`| --- | --- | ${o.bcSizes.map(() => "---:").join(" | ")} |`);
  const how: Record<string, string> = {
    "edgews-deno": "`server.publish`",
    "edgews-bun": "`server.publish`",
    "bun-native": "`server.publish`",
    "deno-native": "loop of `send`",
    "ws-node": "loop of `send`",
  };
  for (const s of servers) {
    const cells = o.bcSizes.map((z) => {
      const v = m[s][z];
      const mine = samples.filter((x) => x.server === s && x.size === z);
      const maxLg = Math.max(0, ...mine.map((x) => x.loadgen_cpu ?? 0));
      const minSrv = Math.min(
        1,
        ...mine.filter((x) => x.per_sec !== null).map((x) => x.server_cpu ?? 1),
      );
      return v === undefined
        ? "—"
        : fmtNum(v) + (maxLg > 0.95 ? " ⚠" : "") + (minSrv < 0.85 ? " †" : "");
    });
    lines.push(`| ${SERVERS[s].label} (\`${s}\`) | ${how[s] ?? ""} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

function broadcastRatioTable(o: Options, m: Medians): string {
  const lines: string[] = [];
  lines.push(`| ratio | ${o.bcSizes.map(fmtSize).join(" | ")} |`);
  lines.push(`| --- | ${o.bcSizes.map(() => "---:").join(" | ")} |`);
  let any = false;
  for (const e of EDGEWS) {
    if (!m[e]) continue;
    for (const a of ANCHORS) {
      if (!m[a]) continue;
      any = true;
      const cells = o.bcSizes.map((z) => {
        const x = m[e][z], y = m[a][z];
        return x !== undefined && y !== undefined && y > 0 ? `${(x / y).toFixed(2)}×` : "—";
      });
      lines.push(`| \`${e}\` / \`${a}\` | ${cells.join(" | ")} |`);
    }
  }
  return any ? lines.join("\n") : "";
}

function codecTable(samples: CodecSample[]): string {
  const sizes = [...new Set(samples.map((s) => s.size))].sort((a, b) => a - b);
  const runtimes = [...new Set(samples.map((s) => s.runtime))];
  const lines: string[] = [];
  lines.push(
    `| op | ${
      sizes.flatMap((z) => runtimes.map((r) => `${fmtSize(z)} ${r === "deno" ? "Deno" : "Bun"}`))
        .join(" | ")
    } |`,
  );
  lines.push(`| --- | ${sizes.flatMap(() => runtimes.map(() => "---:")).join(" | ")} |`);
  for (const op of CODEC_OP_LIST) {
    if (!samples.some((s) => s.op === op)) continue;
    const cells = sizes.flatMap((z) =>
      runtimes.map((r) => {
        const v = median(
          samples.filter((s) => s.op === op && s.size === z && s.runtime === r).map((s) =>
            s.gb_per_sec
          ),
        );
        return v === undefined ? "—" : v.toFixed(2);
      })
    );
    lines.push(`| ${op} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// Grouped bar chart, one panel per message size (each with its own linear scale, since rates
// differ by orders of magnitude between sizes), one bar per server.
function chartSvg(o: Options, m: Medians, subtitle: string): string {
  const servers = o.servers.filter((s) => m[s]);
  const sizes = o.sizes;
  const colors: Record<string, string> = {
    "edgews-deno": "#1f77b4",
    "edgews-bun": "#17becf",
    "deno-native": "#7f7f7f",
    "bun-native": "#ff7f0e",
    "ws-node": "#2ca02c",
  };
  const panelW = 230, panelH = 260, top = 70, left = 20, gap = 20, barGap = 6;
  const width = left * 2 + sizes.length * panelW + (sizes.length - 1) * gap;
  const height = top + panelH + 90;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
  );
  parts.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  parts.push(
    `<text x="${left}" y="28" font-size="18" font-weight="bold">` +
      `WebSocket echo throughput (messages/s, higher is better)</text>`,
  );
  parts.push(`<text x="${left}" y="48" font-size="12" fill="#555">${escapeXml(subtitle)}</text>`);
  sizes.forEach((size, pi) => {
    const x0 = left + pi * (panelW + gap);
    const vals = servers.map((s) => m[s][size] ?? 0);
    const max = Math.max(1, ...vals);
    const plotH = panelH - 40;
    const n = Math.max(1, servers.length);
    const barW = (panelW - 20 - barGap * (n - 1)) / n;
    parts.push(
      `<text x="${x0 + panelW / 2}" y="${top}" font-size="14" text-anchor="middle" ` +
        `font-weight="bold">${fmtSize(size)}</text>`,
    );
    const baseY = top + 20 + plotH;
    parts.push(
      `<line x1="${x0}" y1="${baseY}" x2="${x0 + panelW}" y2="${baseY}" stroke="#333"/>`,
    );
    servers.forEach((s, i) => {
      const v = m[s][size];
      const h = v ? (v / max) * (plotH - 16) : 0;
      const bx = x0 + 10 + i * (barW + barGap);
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${(baseY - h).toFixed(1)}" width="${barW.toFixed(1)}" ` +
          `height="${h.toFixed(1)}" fill="${colors[s] ?? "#999"}"><title>${
            escapeXml(`${SERVERS[s].label}, ${fmtSize(size)}: ${fmtNum(v)} msg/s`)
          }</title></rect>`,
      );
      const label = v === undefined
        ? "n/a"
        : v >= 1e6
        ? `${(v / 1e6).toFixed(2)}M`
        : v >= 1e3
        ? `${(v / 1e3).toFixed(v >= 1e5 ? 0 : 1)}k`
        : v.toFixed(0);
      parts.push(
        `<text x="${(bx + barW / 2).toFixed(1)}" y="${(baseY - h - 4).toFixed(1)}" ` +
          `font-size="10" text-anchor="middle">${label}</text>`,
      );
    });
  });
  // legend
  const ly = top + panelH + 40;
  servers.forEach((s, i) => {
    const lx = left + i * 190;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colors[s]}"/>`);
    parts.push(
      `<text x="${lx + 18}" y="${ly}" font-size="12">${escapeXml(SERVERS[s].label)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

async function machineInfo(): Promise<Json> {
  const lscpu = await tryRun(["lscpu"]);
  const model = /Model name:\s*(.+)/.exec(lscpu)?.[1]?.trim() ?? "unknown";
  let wsVersion = "unknown";
  try {
    wsVersion = JSON.parse(await Deno.readTextFile(`${ROOT}/node_modules/ws/package.json`))
      .version;
  } catch { /* not installed */ }
  return {
    date: new Date().toISOString(),
    nproc: Number(await tryRun(["nproc"])),
    cpu_model: model,
    kernel: await tryRun(["uname", "-r"]),
    deno: (await tryRun([DENO, "--version"])).split("\n")[0],
    bun: await tryRun([BUN, "--version"]),
    node: await tryRun(["node", "--version"]),
    ws: wsVersion,
    gcc: (await tryRun(["gcc", "--version"])).split("\n")[0],
    loadavg_at_start: (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" "),
  };
}

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  const o = parseArgs(Deno.args);
  const cmdline = ["deno run -A bench/run.ts", ...Deno.args].join(" ");
  await buildLoadgen();
  const machine = await machineInfo();
  console.log(
    `machine: ${machine.nproc} CPUs, ${machine.cpu_model}; ${machine.deno}, bun ${machine.bun}, ` +
      `node ${machine.node}, ws ${machine.ws}; load average ${machine.loadavg_at_start}`,
  );
  if (Number(machine.loadavg_at_start.split(" ")[0]) > 0.5) {
    console.log("WARNING: the machine is not idle (load average > 0.5); results will be noisy.");
  }
  const results: Json = { machine, command: cmdline, options: o };

  const t0 = Date.now();
  if (o.check && o.suites.includes("throughput")) results.saturation = await saturationCheck(o);

  let samples: Sample[] = [];
  let m: Medians = {};
  if (o.suites.includes("throughput")) {
    samples = await throughputSuite(o);
    m = throughputMedians(samples);
    results.throughput = { medians: m, samples };
  }
  let mem: MemSample[] = [];
  if (o.suites.includes("memory")) {
    mem = await memorySuite(o);
    results.memory = { idle_conns: o.idleConns, samples: mem };
  }
  let hs: HsSample[] = [];
  if (o.suites.includes("handshake")) {
    hs = await handshakeSuite(o);
    results.handshake = { concurrency: o.hsConcurrency, samples: hs };
  }
  let bc: BcSample[] = [];
  let bm: Medians = {};
  if (o.suites.includes("broadcast")) {
    bc = await broadcastSuite(o);
    bm = broadcastMedians(bc);
    results.broadcast = {
      subscribers: o.bcSubs,
      window: o.bcWindow,
      sizes: o.bcSizes,
      medians: bm,
      samples: bc,
    };
  }
  let codec: { samples: CodecSample[]; versions: Json } | undefined;
  if (o.suites.includes("codec")) {
    codec = await codecSuite(o);
    results.codec = codec;
  }
  let scaleout: Awaited<ReturnType<typeof scaleoutSuite>> | undefined;
  if (o.suites.includes("scaleout")) {
    scaleout = await scaleoutSuite(o.scaleout, {
      rounds: o.rounds,
      warmup: o.warmup,
      duration: o.duration,
      waitIdle: () => waitIdle(o),
    });
    results.scaleout = scaleout;
  }
  results.elapsed_seconds = (Date.now() - t0) / 1000;

  // ---- report
  const md: string[] = [];
  md.push("# edgews benchmark results", "");
  md.push(
    "Generated by `bench/run.ts` — do not edit by hand. Re-run with:",
    "",
    "```sh",
    cmdline.replace(/^deno/, "node_modules/.bin/deno"),
    "```",
    "",
  );
  md.push(
    `Machine: ${machine.nproc} CPUs (\`nproc\`), ${machine.cpu_model}, Linux ${machine.kernel}. ` +
      `${machine.deno}, Bun ${machine.bun}, Node ${machine.node}, ws ${machine.ws}. ` +
      `Date: ${machine.date}. Load average at start: ${machine.loadavg_at_start}.`,
    "",
  );
  md.push(
    "Method: each server is pinned to CPU 0 (`taskset -c 0`) and our raw-TCP load generator " +
      "(`bench/loadgen/loadgen.c`, C, epoll) to CPU 1. It performs the opening handshake, " +
      "then keeps a fixed window of pre-encoded masked frames in flight per connection " +
      "and counts echoes by parsing frame headers only. Servers run A/B interleaved " +
      `(${o.rounds} round(s), each server in turn); values are medians.`,
    "",
  );
  const sat = results.saturation;
  if (sat && !sat.problem) {
    md.push(
      `Saturation check (Bun's native server, 32 B): ${fmtNum(sat.msgs_per_sec)} msg/s with ` +
        `server CPU ${fmtNum(sat.server_cpu * 100)}% and load generator CPU ` +
        `${fmtNum(sat.loadgen_cpu * 100)}% — ${
          sat.saturated ? "the server is the bottleneck." : "WARNING: not saturated."
        }`,
      "",
    );
  }
  const console_out: string[] = [];
  if (results.throughput) {
    const tt = throughputTable(o, m, samples);
    const rt = ratioTable(o, m);
    const gt = targetTable(m);
    const sec = [
      "## Echo throughput",
      "",
      `${o.conns} connections × ${o.window} messages in flight (${o.bigConns} × ${o.bigWindow} ` +
      `for 1 MiB), ${o.text ? "text" : "binary"} frames, ${o.warmup} s warm-up + ` +
      `${o.duration} s measured. ⚠ marks a cell where the load generator used > 95% of its CPU; † one where ` +
      `a sample's server used < 85% of its core (contention, not a server limit); such samples are ` +
      `left out of the median when the cell has samples without it.`,
      "",
      tt,
      "",
    ];
    if (rt) sec.push("### Ratios (edgews ÷ anchor)", "", rt, "");
    if (gt) sec.push("### Targets", "", gt, "");
    sec.push("![echo throughput chart](results.svg)", "");
    md.push(...sec);
    console_out.push(tt, "", rt, "", gt);
  }
  if (results.memory) {
    const t = simpleTable(
      o,
      `KiB per idle connection (${o.idleConns} conns)`,
      "",
      mem.map((x) => ({
        server: x.server,
        value: x.bytes_per_conn === null ? null : x.bytes_per_conn / 1024,
      })),
      2,
    );
    md.push(
      "## Memory per idle connection",
      "",
      `(server RSS with ${o.idleConns} open WebSocket connections − RSS before) ÷ ${o.idleConns}.`,
      "",
      t,
      "",
    );
    console_out.push("", t);
  }
  if (results.handshake) {
    const t = simpleTable(
      o,
      "handshakes/s",
      "",
      hs.map((x) => ({ server: x.server, value: x.per_sec })),
      0,
    );
    md.push(
      "## Handshakes per second",
      "",
      `TCP connect + HTTP upgrade + close handshake (then the client resets the TCP connection, ` +
        `so no TIME_WAIT piles up), ${o.hsConcurrency} in parallel.`,
      "",
      t,
      "",
    );
    console_out.push("", t);
  }
  if (results.broadcast) {
    const t = broadcastTable(o, bm, bc);
    const rt = broadcastRatioTable(o, bm);
    md.push(
      "## Broadcast fan-out",
      "",
      `One published message to ${o.bcSubs} subscribers. The load generator holds the ` +
        `${o.bcSubs} subscriber connections (they only count the frames they receive, by ` +
        `header) and one publisher connection, which sends masked trigger messages of the given ` +
        `size; the server publishes each one's payload to every subscriber. At most ` +
        `${o.bcWindow} broadcasts are in flight (a trigger is sent only while fewer than ` +
        `${o.bcWindow} × ${o.bcSubs} deliveries are outstanding), so the pace is set by how fast ` +
        `the server fans out, not by a timer. Deliveries/s = messages received per second, ` +
        `summed over the subscribers; ${o.warmup} s warm-up + ${o.duration} s measured, ` +
        `${o.rounds} round(s), medians. edgews and Bun encode the frame once per publish; ws ` +
        `and Deno have no pub/sub, so their servers loop over a set of sockets and encode a ` +
        `frame per send. ⚠ and † as above.`,
      "",
      t,
      "",
    );
    if (rt) md.push("### Ratios (edgews ÷ anchor)", "", rt, "");
    console_out.push("", t, "", rt);
  }
  if (codec) {
    const t = codecTable(codec.samples);
    md.push(
      "## Codec microbenchmarks",
      "",
      `GB/s of payload (10^9 bytes/s), \`bench/codec.ts\` pinned to CPU 0, one process per ` +
        `op, median of ${o.rounds} round(s) (each the median of 5 timed batches after a ` +
        `warm-up). Deno ${codec.versions.deno ?? "?"}, Bun ${codec.versions.bun ?? "?"}. ` +
        "parse: `Receiver.push` over masked binary frames in 64 KiB chunks the caller reuses " +
        "(payloads copied out); parse-owned: the same with fresh chunks (large payloads " +
        "unmasked in place, handed on as views); encode: `encodeFrame` (server frame, new " +
        "buffer); encode-masked: `writeFrame` with a masking key into a reused buffer (client " +
        "frame); unmask: `maskInPlace`. The same cases run under `deno bench " +
        "bench/codec_bench.ts`.",
      "",
      t,
      "",
    );
    console_out.push("", t);
  }
  md.push(SCALEOUT_POINTER);
  if (scaleout) console_out.push("", scaleoutSummary(scaleout));
  if (skipped.size) {
    md.push("## Skipped servers", "");
    for (const [k, v] of skipped) md.push(`- \`${k}\`: ${v.split("\n")[0]}`);
    md.push("");
  }

  console.log("\n== results (medians) ==\n");
  console.log(console_out.filter((x, i, a) => x !== "" || a[i - 1] !== "").join("\n"));
  for (const [k, v] of skipped) console.log(`skipped ${k}: ${v.split("\n")[0]}`);

  // The scaleout suite writes its own files; a run of it alone leaves RESULTS.md as it is.
  if (o.write && scaleout) await writeScaleout(scaleout, machine, cmdline);
  if (o.write && o.suites.some((x) => x !== "scaleout")) {
    await Deno.mkdir(`${ROOT}/bench/results`, { recursive: true });
    await Deno.writeTextFile(
      `${ROOT}/bench/results/latest.json`,
      JSON.stringify(results, null, 2) + "\n",
    );
    await Deno.writeTextFile(`${ROOT}/bench/RESULTS.md`, md.join("\n"));
    // Keep the generated Markdown `deno fmt --check` clean (aligned tables, wrapped lines).
    await tryRun([DENO, "fmt", "--quiet", `${ROOT}/bench/RESULTS.md`]);
    if (results.throughput) {
      const sub = `${machine.nproc} CPUs, ${machine.cpu_model}; server on CPU 0, load on CPU 1; ` +
        `${o.conns} conns × ${o.window} in flight; median of ${o.rounds}; ${
          machine.date.slice(0, 10)
        }`;
      await Deno.writeTextFile(`${ROOT}/bench/results.svg`, chartSvg(o, m, sub));
      await tryRun([DENO, "fmt", "--quiet", `${ROOT}/bench/results.svg`]);
    }
    console.log(
      "\nwrote bench/results/latest.json, bench/RESULTS.md" +
        (results.throughput ? ", bench/results.svg" : ""),
    );
  }
}

await main();

/**
 * Codec microbenchmarks as GB/s (10^9 payload bytes per second), on whichever runtime runs this
 * file: parse, parse-owned, encode, encode-masked, unmask at 32 B, 1 KiB, 16 KiB and 1 MiB
 * payloads (the cases are in codec_cases.ts). Each case is warmed up, then timed in several
 * batches with performance.now(); the median batch is reported.
 *
 *   node_modules/.bin/deno run -A bench/codec.ts [--json] [--quick]
 *   node_modules/.bin/bun bench/codec.ts [--json] [--quick]
 *
 * --json prints one JSON object (what bench/run.ts reads); --quick times shorter batches;
 * --ops a,b runs only those ops. Run in one process, the ops share the JIT's type feedback for
 * the functions they have in common (maskInPlace above all), and an op can run slower after
 * another than alone (seen on Bun: unmask at 32 B); bench/run.ts therefore runs each op in a
 * process of its own.
 */

import process from "node:process";
import { CODEC_OPS, CODEC_SIZES, codecCases, type CodecOp, fmtBytes } from "./codec_cases.ts";

const args = process.argv.slice(2);
const json = args.includes("--json");
const quick = args.includes("--quick");
const opsAt = args.indexOf("--ops");
const ops: CodecOp[] = opsAt >= 0
  ? args[opsAt + 1].split(",").map((o) => {
    if (!(CODEC_OPS as readonly string[]).includes(o)) throw new Error(`unknown op: ${o}`);
    return o as CodecOp;
  })
  : [...CODEC_OPS];
const WARMUP_MS = quick ? 50 : 150;
const BATCH_MS = quick ? 50 : 100;
const BATCHES = quick ? 3 : 5;

function runtime(): { name: string; version: string } {
  const bun = Reflect.get(globalThis, "Bun") as { version: string } | undefined;
  if (bun) return { name: "bun", version: bun.version };
  const deno = Reflect.get(globalThis, "Deno") as { version: { deno: string } } | undefined;
  if (deno) return { name: "deno", version: deno.version.deno };
  return { name: "node", version: process.version };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// Runs `run` for at least `ms`; returns [iterations, elapsed ms].
function timed(run: () => void, ms: number): [number, number] {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    run();
    n++;
    t = performance.now();
  }
  return [n, t - t0];
}

const results: { op: string; size: number; gb_per_sec: number; frames_per_sec: number }[] = [];
for (const c of codecCases(ops)) {
  timed(() => c.run(), WARMUP_MS);
  const rates: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const [n, ms] = timed(() => c.run(), BATCH_MS);
    rates.push((n * c.bytes) / (ms / 1000));
  }
  const bps = median(rates);
  results.push({
    op: c.op,
    size: c.size,
    gb_per_sec: bps / 1e9,
    frames_per_sec: bps / c.size,
  });
}

const rt = runtime();
if (json) {
  console.log(JSON.stringify({ runtime: rt.name, version: rt.version, results }));
} else {
  console.log(`codec throughput on ${rt.name} ${rt.version}, GB/s of payload (10^9 B/s)\n`);
  const head = ["op".padEnd(14), ...CODEC_SIZES.map((s) => fmtBytes(s).padStart(9))].join(" ");
  console.log(head);
  for (const op of ops) {
    const cells = CODEC_SIZES.map((s) => {
      const r = results.find((x) => x.op === op && x.size === s);
      return (r ? r.gb_per_sec.toFixed(2) : "—").padStart(9);
    });
    console.log([op.padEnd(14), ...cells].join(" "));
  }
}

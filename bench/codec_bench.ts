/**
 * Codec microbenchmarks for `deno bench`: parse (Receiver.push), encode (encodeFrame, and
 * writeFrame with a mask) and unmask (maskInPlace), at 32 B, 1 KiB, 16 KiB and 1 MiB payloads.
 * Each iteration handles at least 256 KiB of payload (see codec_cases.ts; the bench name says how
 * much), so GB/s = bytes per iteration / time per iteration. bench/codec.ts prints GB/s directly
 * and also runs on Bun; `deno run -A bench/run.ts --suites codec` runs both runtimes.
 *
 *   node_modules/.bin/deno bench bench/codec_bench.ts
 */

import { codecCases, fmtBytes } from "./codec_cases.ts";

for (const c of codecCases()) {
  Deno.bench({
    name: `${c.op} ${fmtBytes(c.size)} (${c.frames} x ${fmtBytes(c.size)} = ${
      fmtBytes(c.bytes)
    } per iteration)`,
    group: c.op,
    baseline: c.size === 32,
    fn: () => c.run(),
  });
}

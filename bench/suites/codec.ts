/**
 * The codec suite: bench/codec.ts on Deno, Bun and Node, pinned to CPU 0, one process per op (so
 * ops do not share JIT type feedback), once per round; the report takes medians per case.
 *
 * @module
 */

import type { Options } from "../lib/args.ts";
import { fmtSize } from "../lib/format.ts";
import { waitIdle } from "../lib/machine.ts";
import { BUN, DENO, NODE } from "../lib/paths.ts";
import { run } from "../lib/processes.ts";
import { CODEC_OPS, type CodecSample, type Json } from "../lib/results.ts";

/** Runs the suite; resolves with the samples and the runtime versions codec.ts reported. */
export async function codecSuite(o: Options): Promise<{ samples: CodecSample[]; versions: Json }> {
  console.log(
    `\n== codec microbenchmarks (bench/codec.ts): GB/s of payload, Deno, Bun and Node, ` +
      `${o.rounds} round(s) ==`,
  );
  const runtimes: [string, string[]][] = [
    ["deno", [DENO, "run", "-A", "bench/codec.ts"]],
    ["bun", [BUN, "bench/codec.ts"]],
    ["node", [NODE, "bench/codec.ts"]],
  ];
  const samples: CodecSample[] = [];
  const versions: Json = {};
  for (let round = 1; round <= o.rounds; round++) {
    for (const [rt, cmd] of runtimes) {
      for (const op of CODEC_OPS) {
        await waitIdle(o.idleWait);
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

/**
 * The check that our load generator is faster than the fastest server it measures: against Bun's
 * native server at 32 B, the server must use its whole core and the load generator must not.
 *
 * @module
 */

import type { Options } from "../lib/args.ts";
import { fmtNum } from "../lib/format.ts";
import { startOrSkip } from "../lib/launch.ts";
import type { Json } from "../lib/results.ts";
import { echoProblem, echoRun } from "./throughput.ts";

/** Runs the check (1 s warm-up, 3 s measured) and warns when it fails. */
export async function saturationCheck(o: Options): Promise<Json | undefined> {
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
    await srv.proc.stop();
  }
}

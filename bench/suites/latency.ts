/**
 * The latency suite: many connections, chat-like traffic. `--lat-conns` connections each send
 * one `--lat-size`-byte message every 1/`--lat-rate` s, the sends of all connections spread
 * evenly over that period (not all at once); the load generator stamps each message with its
 * send time and records every echo's round trip. Reported: exact percentiles over the measured
 * seconds. The server is far from saturated (10,000 messages/s); what is measured is how long a
 * message waits with that many connections open, not how many messages fit.
 *
 * @module
 */

import type { Options } from "../lib/args.ts";
import { fmtNum } from "../lib/format.ts";
import { eachServer } from "../lib/launch.ts";
import { loadgen } from "../lib/loadgen.ts";
import { otherCpu, waitIdle } from "../lib/machine.ts";
import type { Json, Latency, LatSample } from "../lib/results.ts";
import { CONTENDED_CPUS } from "./scaleout_plan.ts";

/** Warm-up seconds: `--warmup`, but long enough for every connection to have sent twice. */
export function latencyWarmup(o: Options): number {
  return Math.max(o.warmup, 2 / o.latRate);
}

/** Why a latency run is not valid, or undefined if it is. */
function latencyProblem(r: Json, conns: number): string | undefined {
  if (r.error) return r.error;
  if (r.conns_alive !== conns) return `${conns - r.conns_alive} connections died`;
  if (r.errors > 0) return `${r.errors} errors`;
  if (r.bad_len > 0) return `${r.bad_len} echoes with the wrong length`;
  if (r.bad_stamp > 0) return `${r.bad_stamp} echoes with a garbled time stamp`;
  if (r.missing > 0) return `${r.missing} echoes missing`;
  if (!(r.lat?.n > 0)) return "no echoes measured";
  return undefined;
}

/** Runs the suite: every round, every server (a different one first each round). */
export async function latencySuite(o: Options): Promise<LatSample[]> {
  const warmup = latencyWarmup(o);
  console.log(
    `\n== latency: ${o.latConns} connections x ${o.latRate} message(s)/s of ${o.latSize} B, ` +
      `spread evenly; ${warmup} s warm-up + ${o.latDuration} s, ${o.rounds} round(s) ==`,
  );
  const out: LatSample[] = [];
  await eachServer(o, { variant: "echo", sizes: [0], rotate: true }, async (srv, round) => {
    await waitIdle(o.idleWait);
    const args = ["chat", "--port", String(srv.port), "--conns", String(o.latConns)];
    args.push("--rate", String(o.latRate), "--size", String(o.latSize));
    args.push("--warmup", String(warmup), "--duration", String(o.latDuration));
    args.push("--server-pid", String(srv.proc.pid), "--timeout", "60");
    const r = await loadgen(args, "1", (warmup + o.latDuration + 120) * 1000);
    const problem = latencyProblem(r, o.latConns);
    const lat: Latency | null = problem ? null : r.lat;
    const other = otherCpu(r);
    const contended = other !== null && other > CONTENDED_CPUS;
    out.push({
      round,
      server: srv.name,
      lat,
      server_cpu: r.server_cpu,
      loadgen_cpu: r.loadgen_cpu,
      other_cpu: other,
      contended,
      problem,
      raw: r,
    });
    const ms = (us: number) => `${fmtNum(us / 1000, 2)} ms`;
    console.log(
      `  [${round}/${o.rounds}] ${srv.name.padEnd(12)} ` +
        (lat
          ? `p50 ${ms(lat.p50_us)}  p99 ${ms(lat.p99_us)}  p99.9 ${ms(lat.p999_us)}  max ${
            ms(lat.max_us)
          }  (${fmtNum(lat.n)} echoes, ${fmtNum(r.sent_per_sec)} sent/s, server CPU ${
            fmtNum(r.server_cpu * 100)
          }%, loadgen CPU ${fmtNum(r.loadgen_cpu * 100)}%)` +
            (contended ? `  (other processes used ${fmtNum(other!, 2)} CPUs: contended)` : "")
          : `INVALID (${problem})`),
    );
  });
  return out;
}

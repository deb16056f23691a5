/**
 * The throughput suite: echo messages per second per server and message size, each server pinned
 * to CPU 0 and the load generator to CPU 1, servers A/B interleaved round by round.
 *
 * @module
 */

import type { Options } from "../lib/args.ts";
import { fmtNum, fmtSize } from "../lib/format.ts";
import { eachServer, type Server } from "../lib/launch.ts";
import { cpuNote, loadgen } from "../lib/loadgen.ts";
import { waitIdle } from "../lib/machine.ts";
import type { Json, Sample } from "../lib/results.ts";

/** Connections and messages in flight for `size`: fewer for large messages, to fit in memory. */
export function loadFor(o: Options, size: number): { conns: number; window: number } {
  return size >= 1048576
    ? { conns: o.bigConns, window: o.bigWindow }
    : { conns: o.conns, window: o.window };
}

/** One echo measurement of `srv` at `size`; the result records how busy the machine was. */
export async function echoRun(
  o: Options,
  srv: Server,
  size: number,
  warmup = o.warmup,
  dur = o.duration,
): Promise<Json> {
  const { conns, window } = loadFor(o, size);
  const args = ["echo", "--port", String(srv.port), "--size", String(size)];
  args.push("--conns", String(conns), "--window", String(window));
  args.push("--warmup", String(warmup), "--duration", String(dur));
  args.push("--server-pid", String(srv.proc.pid), "--timeout", "10");
  if (o.text) args.push("--text");
  const busyBefore = await waitIdle(o.idleWait);
  const r = await loadgen(args, "1", (warmup + dur + 30) * 1000);
  r.machine_busy_before = busyBefore;
  return r;
}

/** Why an echo run is not valid, or undefined if it is. */
export function echoProblem(r: Json, conns: number): string | undefined {
  if (r.error) return r.error;
  if (r.conns_alive !== conns) return `${conns - r.conns_alive} connections died`;
  if (r.errors > 0) return `${r.errors} errors`;
  if (r.bad_len > 0) return `${r.bad_len} echoes with the wrong length`;
  if (r.messages === 0) return "no messages echoed";
  return undefined;
}

/** Runs the suite: every round, every server (a different one first each round), every size. */
export async function throughputSuite(o: Options): Promise<Sample[]> {
  console.log(
    `\n== throughput: echo, ${o.conns} conns x ${o.window} in flight` +
      ` (>= 1 MiB: ${o.bigConns} x ${o.bigWindow}), ${o.warmup} s warm-up + ${o.duration} s,` +
      ` ${o.rounds} round(s), ${o.text ? "text" : "binary"} frames ==`,
  );
  const samples: Sample[] = [];
  await eachServer(
    o,
    { variant: "echo", sizes: o.sizes, rotate: true },
    async (srv, round, size) => {
      const r = await echoRun(o, srv, size);
      const problem = echoProblem(r, loadFor(o, size).conns);
      const { name } = srv;
      samples.push({
        round,
        server: name,
        size,
        msgs_per_sec: problem ? null : r.msgs_per_sec,
        server_cpu: r.server_cpu,
        loadgen_cpu: r.loadgen_cpu,
        problem,
        raw: r,
      });
      console.log(
        `  [${round}/${o.rounds}] ${name.padEnd(12)} ${fmtSize(size).padStart(7)}: ` +
          (problem
            ? `INVALID (${problem})`
            : `${fmtNum(r.msgs_per_sec).padStart(10)} msg/s  server CPU ${
              fmtNum(r.server_cpu * 100)
            }%  loadgen CPU ${fmtNum(r.loadgen_cpu * 100)}%${cpuNote(r)}`),
      );
    },
  );
  return samples;
}

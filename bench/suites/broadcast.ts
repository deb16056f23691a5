/**
 * The broadcast suite: fan-out of one published message to `--bc-subs` subscribers.
 *
 * The load generator holds the subscriber connections (path /sub) and one publisher connection
 * (path /pub). Each server publishes every message the publisher sends to all subscribers: edgews
 * and Bun with `server.publish(topic, data)` (one encoded frame for all), ws and Deno by looping
 * over their sockets (a frame encoded per send, as their APIs force). The publisher keeps at most
 * `--bc-window` broadcasts in flight, counted by deliveries (a trigger goes out only while fewer
 * than window x subscribers deliveries are outstanding), so the pace is set by how fast the
 * server fans out, not by a timer. Reported: deliveries/s, i.e. messages received summed over
 * the subscribers.
 *
 * @module
 */

import type { Options } from "../lib/args.ts";
import { fmtNum, fmtSize } from "../lib/format.ts";
import { eachServer, type Server } from "../lib/launch.ts";
import { broadcastProblem, cpuNote, loadgen } from "../lib/loadgen.ts";
import { waitIdle } from "../lib/machine.ts";
import type { BcSample, Json } from "../lib/results.ts";

async function broadcastRun(o: Options, srv: Server, size: number): Promise<Json> {
  const args = ["broadcast", "--port", String(srv.port), "--size", String(size)];
  args.push("--conns", String(o.bcSubs), "--window", String(o.bcWindow));
  args.push("--warmup", String(o.warmup), "--duration", String(o.duration));
  args.push("--server-pid", String(srv.proc.pid), "--timeout", "20");
  if (o.text) args.push("--text");
  await waitIdle(o.idleWait);
  return await loadgen(args, "1", (o.warmup + o.duration + 60) * 1000);
}

/** Runs the suite: every round, every server (a different one first each round), every size. */
export async function broadcastSuite(o: Options): Promise<BcSample[]> {
  console.log(
    `\n== broadcast fan-out: ${o.bcSubs} subscribers, ${o.bcWindow} broadcasts in flight, ` +
      `${o.warmup} s warm-up + ${o.duration} s, ${o.rounds} round(s) ==`,
  );
  const out: BcSample[] = [];
  const schedule = { variant: "broadcast" as const, sizes: o.bcSizes, rotate: true };
  await eachServer(o, schedule, async (srv, round, size) => {
    const r = await broadcastRun(o, srv, size);
    const problem = broadcastProblem(r, o.bcSubs);
    out.push({
      round,
      server: srv.name,
      size,
      per_sec: problem ? null : r.deliveries_per_sec,
      server_cpu: r.server_cpu,
      loadgen_cpu: r.loadgen_cpu,
      problem,
      raw: r,
    });
    console.log(
      `  [${round}/${o.rounds}] ${srv.name.padEnd(12)} ${fmtSize(size).padStart(7)}: ` +
        (problem
          ? `INVALID (${problem})`
          : `${fmtNum(r.deliveries_per_sec).padStart(10)} deliveries/s  (${
            fmtNum(r.broadcasts_per_sec)
          } broadcasts/s, missing ${r.missing})  server CPU ${
            fmtNum(r.server_cpu * 100)
          }%  loadgen CPU ${fmtNum(r.loadgen_cpu * 100)}%${cpuNote(r)}`),
    );
  });
  return out;
}

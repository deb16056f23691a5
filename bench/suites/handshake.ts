/**
 * The handshake suite: TCP connect + HTTP upgrade + close handshake cycles per second, the load
 * generator keeping `--hs-concurrency` of them in parallel.
 *
 * @module
 */

import type { Options } from "../lib/args.ts";
import { fmtNum } from "../lib/format.ts";
import { eachServer } from "../lib/launch.ts";
import { loadgen } from "../lib/loadgen.ts";
import { waitIdle } from "../lib/machine.ts";
import type { HsSample } from "../lib/results.ts";

/** Runs the suite: every round, every server. */
export async function handshakeSuite(o: Options): Promise<HsSample[]> {
  console.log(
    `\n== handshakes: connect + upgrade + close, ${o.hsConcurrency} in parallel, ` +
      `${o.warmup} s warm-up + ${o.duration} s ==`,
  );
  const out: HsSample[] = [];
  await eachServer(o, { variant: "echo", sizes: [0], rotate: false }, async (srv, round) => {
    await waitIdle(o.idleWait);
    const args = ["handshake", "--port", String(srv.port)];
    args.push("--concurrency", String(o.hsConcurrency));
    args.push("--warmup", String(o.warmup), "--duration", String(o.duration));
    args.push("--server-pid", String(srv.proc.pid));
    const r = await loadgen(args, "1", (o.warmup + o.duration + 30) * 1000);
    const valid = !r.error && r.cycles > 0 && srv.proc.alive;
    out.push({ round, server: srv.name, per_sec: valid ? r.cycles_per_sec : null, raw: r });
    console.log(
      `  [${round}/${o.rounds}] ${srv.name.padEnd(12)} ` +
        (valid
          ? `${fmtNum(r.cycles_per_sec).padStart(8)} handshakes/s  (errors ${r.errors}, ` +
            `server CPU ${fmtNum(r.server_cpu * 100)}%, loadgen CPU ${
              fmtNum(r.loadgen_cpu * 100)
            }%)`
          : `INVALID (${r.error ?? `errors ${r.errors}`})`),
    );
  });
  return out;
}

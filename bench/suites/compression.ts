/**
 * The compression suite: echo messages per second with permessage-deflate (RFC 7692) on both
 * sides, messages of realistic JSON text (bench/lib/json_payloads.ts).
 *
 * The load generator offers "permessage-deflate; client_no_context_takeover" and sends
 * pre-compressed masked frames with RSV1 set, each compressed on its own (as that offer
 * promises), cycling through enough different messages that a server compressing with context
 * takeover never finds the whole message in its window. It never inflates the echoes: it counts
 * them by header, and checks that each one is compressed (RSV1) and that every 101 accepted the
 * extension, so that a server that silently stopped compressing cannot post numbers.
 *
 * @module
 */

import type { Options } from "../lib/args.ts";
import { deflateServers, NO_DEFLATE } from "../lib/deflate_servers.ts";
import { fmtNum, fmtSize } from "../lib/format.ts";
import { eachServer, type Server } from "../lib/launch.ts";
import { cpuNote, loadgen } from "../lib/loadgen.ts";
import { type PayloadFile, writeDeflatePayloads } from "../lib/json_payloads.ts";
import { waitIdle } from "../lib/machine.ts";
import type { DeflatePayloads, Json, Sample } from "../lib/results.ts";
import { echoProblem } from "./throughput.ts";

/** The offer the load generator sends. */
export const CLIENT_DEFLATE_OFFER = "permessage-deflate; client_no_context_takeover";

async function compressedEchoRun(
  o: Options,
  srv: Server,
  size: number,
  file: PayloadFile,
): Promise<Json> {
  const args = ["echo", "--port", String(srv.port), "--size", String(size), "--text", "--rsv1"];
  args.push("--payload-file", file.path, "--extensions", CLIENT_DEFLATE_OFFER);
  args.push("--conns", String(o.conns), "--window", String(o.window));
  args.push("--warmup", String(o.warmup), "--duration", String(o.duration));
  args.push("--server-pid", String(srv.proc.pid), "--timeout", "10");
  const busyBefore = await waitIdle(o.idleWait);
  const r = await loadgen(args, "1", (o.warmup + o.duration + 30) * 1000);
  r.machine_busy_before = busyBefore;
  return r;
}

/** Why a compressed echo run is not valid, or undefined if it is. */
function compressedProblem(r: Json, conns: number): string | undefined {
  const problem = echoProblem(r, conns);
  if (problem) return problem;
  if (!r.extensions_accepted?.toLowerCase().includes("permessage-deflate")) {
    return "no permessage-deflate in the server's 101";
  }
  if (r.plain_replies > 0) return `${r.plain_replies} echoes were not compressed`;
  if (!(r.compressed_replies > 0)) return "no compressed echoes";
  return undefined;
}

/** Runs the suite: every round, every server that can compress, every size. */
export async function compressionSuite(
  o: Options,
): Promise<{ payloads: DeflatePayloads[]; samples: Sample[] }> {
  const servers = deflateServers(o.servers);
  const files = new Map<number, PayloadFile>();
  for (const size of o.czSizes) files.set(size, await writeDeflatePayloads(size));
  const payloads = o.czSizes.map((size) => {
    const { messages, bytes, compressed } = files.get(size)!;
    return { size, messages, bytes, compressed };
  });
  console.log(
    `\n== compression: echo of JSON text with permessage-deflate, ${o.conns} conns x ` +
      `${o.window} in flight, ${o.warmup} s warm-up + ${o.duration} s, ${o.rounds} round(s) ==`,
  );
  for (const p of payloads) {
    console.log(
      `  ${fmtSize(p.size)}: ${p.messages} messages, compressed to ${
        fmtNum(p.compressed / p.messages)
      } B each on average`,
    );
  }
  for (const s of o.servers.filter((x) => NO_DEFLATE[x])) {
    console.log(`  (${s} left out: ${NO_DEFLATE[s]})`);
  }
  const samples: Sample[] = [];
  await eachServer(
    { ...o, servers },
    { variant: "deflate", sizes: o.czSizes, rotate: true },
    async (srv, round, size) => {
      const r = await compressedEchoRun(o, srv, size, files.get(size)!);
      const problem = compressedProblem(r, o.conns);
      samples.push({
        round,
        server: srv.name,
        size,
        msgs_per_sec: problem ? null : r.msgs_per_sec,
        server_cpu: r.server_cpu,
        loadgen_cpu: r.loadgen_cpu,
        problem,
        raw: r,
      });
      console.log(
        `  [${round}/${o.rounds}] ${srv.name.padEnd(12)} ${fmtSize(size).padStart(7)}: ` +
          (problem
            ? `INVALID (${problem})`
            : `${fmtNum(r.msgs_per_sec).padStart(10)} msg/s  server CPU ${
              fmtNum(r.server_cpu * 100)
            }%  loadgen CPU ${fmtNum(r.loadgen_cpu * 100)}%  agreed: ${r.extensions_accepted}` +
              cpuNote(r)),
      );
    },
  );
  return { payloads, samples };
}

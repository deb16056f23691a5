/**
 * The memory suite: server RSS growth per idle connection. The load generator opens
 * `--idle-conns` WebSockets and holds them until told to stop (stdin closed); it runs as its own
 * process because the open-files limit (20,000 here) is per process.
 *
 * @module
 */

import type { Options } from "../lib/args.ts";
import { fmtNum } from "../lib/format.ts";
import { eachServer, type Server, type Variant } from "../lib/launch.ts";
import { waitIdle } from "../lib/machine.ts";
import { LOADGEN, ROOT } from "../lib/paths.ts";
import { rssBytes, sleep } from "../lib/processes.ts";
import type { Json, MemSample } from "../lib/results.ts";

/** Opens the connections, reads the server's RSS with them open, then lets them go. */
async function holdAndMeasure(
  o: Options,
  srv: Server,
  extraArgs: string[],
): Promise<{ held: number; after: number; raw: Json }> {
  const child = new Deno.Command("taskset", {
    args: [
      ...["-c", "1", LOADGEN, "hold", "--port", String(srv.port), "--conns", String(o.idleConns)],
      ...["--concurrency", "256", "--timeout", "60", ...extraArgs],
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
  const after = srv.proc.alive ? await rssBytes(srv.proc.pid) : NaN;
  await child.stdin.close();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  await child.status;
  await child.stderr.cancel();
  const line = text.split("\n").findLast((l) => l.startsWith("{"));
  return { held, after, raw: line ? JSON.parse(line) : {} };
}

/**
 * Measures every round, every server of `o.servers` (its `variant` program), the load generator
 * holding the connections with `extraArgs` (e.g. an extension offer).
 */
export async function idleMemory(
  o: Options,
  variant: Variant,
  extraArgs: string[] = [],
): Promise<MemSample[]> {
  const out: MemSample[] = [];
  await eachServer(o, { variant, sizes: [0], rotate: false }, async (srv, round) => {
    await sleep(500);
    await waitIdle(o.idleWait);
    const before = await rssBytes(srv.proc.pid);
    const { held, after, raw } = await holdAndMeasure(o, srv, extraArgs);
    raw.rss_before = before;
    raw.rss_after = after;
    const valid = held === o.idleConns && raw.still_open === o.idleConns && !isNaN(after);
    const per = valid ? (after - before) / held : null;
    out.push({ round, server: srv.name, bytes_per_conn: per, raw });
    const declined = raw.ext_declined ? `, the server declined the extension` : "";
    console.log(
      `  [${round}/${o.rounds}] ${srv.name.padEnd(12)} ` +
        (valid
          ? `${fmtNum(per! / 1024, 2)} KiB/conn  (RSS ${fmtNum(before / 1048576, 1)} -> ${
            fmtNum(after / 1048576, 1)
          } MiB)`
          : `INVALID (held ${held}, still open ${raw.still_open ?? "?"}, server ${
            srv.proc.alive ? "alive" : "died"
          }${declined})`),
    );
  });
  return out;
}

/** Runs the suite: every round, every server. */
export async function memorySuite(o: Options): Promise<MemSample[]> {
  console.log(`\n== memory per idle connection: ${o.idleConns} open WebSockets ==`);
  return await idleMemory(o, "echo");
}

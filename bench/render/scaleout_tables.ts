/**
 * The tables of SCALEOUT.md, from a saved scaleout.json.
 *
 * @module
 */

import { fmtNum, fmtSize, pct } from "../lib/format.ts";
import type { ScaleoutResults, ScaleoutSample, Topology } from "../lib/results.ts";
import { SCALEOUT_ANCHOR, serverLabel, SERVERS } from "../lib/servers.ts";
import { medianOf, preferClean, ratio } from "../lib/stats.ts";
import { numberHead, row } from "./markdown.ts";
import { TARGET_VS_ANCHOR, TOPOLOGIES, TOPOLOGY_LABEL } from "../suites/scaleout_plan.ts";

// Every topology × size, the columns of the fan-out tables.
function columns(res: ScaleoutResults): { t: Topology; z: number; title: string }[] {
  return TOPOLOGIES.flatMap((t) =>
    res.options.sizes.map((z) => ({ t, z, title: `${TOPOLOGY_LABEL[t]}, ${fmtSize(z)}` }))
  );
}

/** Deliveries/s medians per server, topology and size; ‡ where every sample was contended. */
export function fanoutTable(res: ScaleoutResults): string {
  const m = res.medians;
  const cols = columns(res);
  const lines = numberHead("server", cols.map((c) => c.title));
  for (const s of res.options.servers) {
    const cells = cols.map((c) => {
      const valid = res.samples.filter((x) =>
        x.server === s && x.topology === c.t && x.size === c.z && x.per_sec !== null
      );
      const onlyContended = valid.length > 0 && valid.every((x) => x.contended);
      return fmtNum(m[s]?.[c.t]?.[c.z]) + (onlyContended ? " ‡" : "");
    });
    lines.push(row([serverLabel(s), ...cells]));
  }
  return lines.join("\n");
}

/** Cross-instance latency percentiles (ms), the load they were measured at, and CPU. */
export function latencyTable(res: ScaleoutResults): string {
  const o = res.options;
  const lines = [
    "| server | B p50 | B p99 | B first p50 | B first p99 | A p50 | A p99 | A first p50 | " +
    "load | server CPU A / B |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const s of o.servers) {
    const ls = preferClean(res.latency.filter((x) => x.server === s && !x.problem));
    if (!res.latency.some((x) => x.server === s)) continue;
    const q = (k: string, p: string) => {
      const x = medianOf(ls.map((l) => l.raw[k]?.[p]));
      return x === undefined ? "—" : fmtNum(x / 1000, 2);
    };
    const cap = res.medians[s]?.["2r"]?.[o.latSize] ?? res.medians[s]?.["2r"]?.[o.sizes[0]];
    const load = cap ? pct((o.rate * o.subs) / cap) : "—";
    const cpu = `${pct(medianOf(ls.map((l) => l.raw.server_cpu)) ?? NaN)} / ${
      pct(medianOf(ls.map((l) => l.raw.server2_cpu)) ?? NaN)
    }`;
    lines.push(
      `| ${serverLabel(s)} | ${q("lat_b", "p50_us")} | ${q("lat_b", "p99_us")} | ` +
        `${q("first_b", "p50_us")} | ${q("first_b", "p99_us")} | ${q("lat_a", "p50_us")} | ` +
        `${q("lat_a", "p99_us")} | ${q("first_a", "p50_us")} | ${load} | ${cpu} |`,
    );
  }
  return lines.join("\n");
}

/** Two instances ÷ one instance, without and with Redis, per size. */
export function scalingTable(res: ScaleoutResults): string {
  const m = res.medians, sizes = res.options.sizes;
  const lines = numberHead("server", [
    ...sizes.map((z) => `2 inst. ÷ 1 inst., ${fmtSize(z)}`),
    ...sizes.map((z) => `2 inst. ÷ 1 inst. + Redis, ${fmtSize(z)}`),
  ]);
  for (const s of res.options.servers) {
    const a = sizes.map((z) => ratio(m[s]?.["2r"]?.[z], m[s]?.["1"]?.[z]));
    const b = sizes.map((z) => ratio(m[s]?.["2r"]?.[z], m[s]?.["1r"]?.[z]));
    lines.push(row([serverLabel(s), ...a, ...b]));
  }
  return lines.join("\n");
}

/** Each edgews server ÷ Socket.IO per topology and size, marked where below the target. */
export function anchorTable(res: ScaleoutResults): string {
  const m = res.medians;
  const cols = columns(res);
  const lines = numberHead("ratio", cols.map((c) => c.title));
  for (const s of res.options.servers.filter((x) => SERVERS[x].edgews)) {
    const cells = cols.map((c) => {
      const x = m[s]?.[c.t]?.[c.z], y = m[SCALEOUT_ANCHOR]?.[c.t]?.[c.z];
      if (x === undefined || y === undefined || y <= 0) return "—";
      const r = x / y;
      return `${r.toFixed(2)}×${r >= TARGET_VS_ANCHOR ? "" : " (below)"}`;
    });
    lines.push(row([`\`${s}\` ÷ \`${SCALEOUT_ANCHOR}\``, ...cells]));
  }
  return lines.join("\n");
}

/** One instance without Redis and with it, and the ratio, per size. */
export function backplaneTable(res: ScaleoutResults): string {
  const m = res.medians, sizes = res.options.sizes;
  const lines = [
    `| server | ${sizes.map((z) => `${fmtSize(z)} without | with Redis | ratio`).join(" | ")} |`,
    `| --- | ${sizes.map(() => "---: | ---: | ---:").join(" | ")} |`,
  ];
  for (const s of res.options.servers) {
    const cells = sizes.map((z) => {
      const a = m[s]?.["1"]?.[z], b = m[s]?.["1r"]?.[z];
      return `${fmtNum(a)} | ${fmtNum(b)} | ${ratio(b, a)}`;
    });
    lines.push(row([serverLabel(s), ...cells]));
  }
  return lines.join("\n");
}

/** CPU use per server, topology and size (medians of the samples the medians above use). */
export function cpuTable(res: ScaleoutResults): string {
  const lines = [
    "| server | topology | size | servers (A + B) | load generator | Redis | machine | other | " +
    "deliveries per server CPU-second |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const s of res.options.servers) {
    for (const t of TOPOLOGIES) {
      for (const z of res.options.sizes) {
        const xs = preferClean(
          res.samples.filter((x) =>
            x.server === s && x.topology === t && x.size === z && !x.problem
          ),
        );
        if (xs.length === 0) continue;
        const cpu = (f: (x: ScaleoutSample) => number | null | undefined) =>
          fmtNum(medianOf(xs.map(f)), 2);
        const eff = medianOf(xs.map((x) => x.per_sec! / Math.max(1e-9, x.server_cpu)));
        lines.push(
          `| \`${s}\` | ${TOPOLOGY_LABEL[t]} | ${fmtSize(z)} | ${cpu((x) => x.server_cpu)} | ${
            cpu((x) => x.raw.loadgen_cpu)
          } | ${t === "1" ? "—" : cpu((x) => x.raw.redis_cpu)} | ${
            cpu((x) => x.raw.machine_busy_cpus)
          } | ${cpu((x) => x.other_cpu)} | ${fmtNum(eff)} |`,
        );
      }
    }
  }
  return lines.join("\n");
}

/** One line per invalid run, fan-out and latency. */
export function invalidRuns(res: ScaleoutResults): string[] {
  return [
    ...res.samples.filter((x) => x.problem).map((x) =>
      `- round ${x.round}, \`${x.server}\`, ${TOPOLOGY_LABEL[x.topology]}, ${
        fmtSize(x.size)
      }: ${x.problem}`
    ),
    ...res.latency.filter((x) => x.problem).map((x) =>
      `- round ${x.round}, \`${x.server}\`, latency: ${x.problem}`
    ),
  ];
}

/**
 * The latency suite's tables: round-trip percentiles per server, and the target that edgews's
 * p99 be no worse than its runtime's own server's.
 *
 * @module
 */

import { fmtNum } from "../lib/format.ts";
import type { Latency, LatSample } from "../lib/results.ts";
import { serverLabel } from "../lib/servers.ts";
import { median, preferClean } from "../lib/stats.ts";
import { head, numberHead, row } from "./markdown.ts";

/** The percentiles shown, by their key in {@link Latency}, with their column titles. */
const COLUMNS: [keyof Latency, string][] = [
  ["p50_us", "p50 ms"],
  ["p90_us", "p90 ms"],
  ["p99_us", "p99 ms"],
  ["p999_us", "p99.9 ms"],
  ["max_us", "max ms"],
];

/**
 * edgews's p99 must not exceed the p99 of its runtime's native server (issue 13), or on Node of
 * `ws`.
 */
export const LATENCY_TARGETS: { subject: string; anchor: string }[] = [
  { subject: "edgews-deno", anchor: "deno-native" },
  { subject: "edgews-bun", anchor: "bun-native" },
  { subject: "edgews-node", anchor: "ws-node" },
];

/** `server`'s valid samples, without the contended ones if there are others. */
function validSamples(samples: LatSample[], server: string): LatSample[] {
  return preferClean(
    samples.filter((s) => s.server === server && s.lat).map((s) => ({
      ...s,
      contended: s.contended ?? false,
    })),
  );
}

/** The median over `server`'s valid rounds of percentile `key`, in µs. */
export function latencyMedian(
  samples: LatSample[],
  server: string,
  key: keyof Latency,
): number | undefined {
  return median(validSamples(samples, server).map((s) => s.lat![key]));
}

/**
 * Percentiles (medians over rounds) per server, and the server's CPU use; † marks a row whose
 * samples all had other work competing (more than 0.15 CPUs besides the server and load
 * generator).
 */
export function latencyTable(servers: string[], samples: LatSample[]): string {
  const lines = numberHead("server", [...COLUMNS.map(([, title]) => title), "server CPU"]);
  for (const s of servers.filter((x) => samples.some((y) => y.server === x))) {
    const valid = validSamples(samples, s);
    const mark = valid.length && valid.every((x) => x.contended) ? " †" : "";
    const cells = COLUMNS.map(([key]) => {
      const v = median(valid.map((x) => x.lat![key]));
      return v === undefined ? "—" : fmtNum(v / 1000, 2) + mark;
    });
    const cpu = median(valid.map((x) => x.server_cpu));
    lines.push(row([serverLabel(s), ...cells, cpu === undefined ? "—" : `${fmtNum(cpu * 100)}%`]));
  }
  return lines.join("\n");
}

/** The {@link LATENCY_TARGETS} that were measured, met or not; "" when none was. */
export function latencyTargetTable(samples: LatSample[]): string {
  const lines = head(["target", "measured", "status"], ["---", "---:", "---"]);
  let any = false;
  for (const t of LATENCY_TARGETS) {
    const x = latencyMedian(samples, t.subject, "p99_us");
    const y = latencyMedian(samples, t.anchor, "p99_us");
    if (x === undefined || y === undefined) continue;
    any = true;
    lines.push(
      row([
        `\`${t.subject}\` p99 ≤ \`${t.anchor}\` p99`,
        `${fmtNum(x / 1000, 2)} ms vs ${fmtNum(y / 1000, 2)} ms (${(x / y).toFixed(2)}×)`,
        x <= y ? "met" : "NOT met",
      ]),
    );
  }
  return any ? lines.join("\n") : "";
}

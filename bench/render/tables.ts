/**
 * The Markdown tables of RESULTS.md (deno fmt aligns them afterwards).
 *
 * @module
 */

import { fmtNum, fmtSize } from "../lib/format.ts";
import { CODEC_OPS, type CodecSample } from "../lib/results.ts";
import { ANCHORS, EDGEWS, serverLabel } from "../lib/servers.ts";
import { CONTENTION_CPU, median, type Medians, ratio } from "../lib/stats.ts";
import { head, numberHead, row } from "./markdown.ts";

/** A target: edgews ÷ an anchor at a message size at least `min`. */
export type Target = { subject: string; anchor: string; size: number; min: number };

/** The echo suite's targets: the brief's, the performance round's (issue 13), Node's (issue 14). */
export const TARGETS: Target[] = [
  { subject: "edgews-deno", anchor: "deno-native", size: 32, min: 4 },
  { subject: "edgews-deno", anchor: "deno-native", size: 16384, min: 1.2 },
  { subject: "edgews-deno", anchor: "deno-native", size: 1048576, min: 1 },
  { subject: "edgews-bun", anchor: "bun-native", size: 32, min: 0.9 },
  { subject: "edgews-bun", anchor: "bun-native", size: 1024, min: 0.9 },
  { subject: "edgews-bun", anchor: "bun-native", size: 16384, min: 0.9 },
  { subject: "edgews-bun", anchor: "bun-native", size: 1048576, min: 1 },
  { subject: "edgews-deno", anchor: "ws-node", size: 32, min: 2.5 },
  { subject: "edgews-deno", anchor: "ws-node", size: 16384, min: 2.5 },
  { subject: "edgews-bun", anchor: "ws-node", size: 32, min: 2.5 },
  { subject: "edgews-bun", anchor: "ws-node", size: 16384, min: 2.5 },
  { subject: "edgews-node", anchor: "ws-node", size: 32, min: 2 },
  { subject: "edgews-node", anchor: "ws-node", size: 1024, min: 2 },
  { subject: "edgews-node", anchor: "ws-node", size: 16384, min: 1 },
  { subject: "edgews-node", anchor: "ws-node", size: 1048576, min: 1 },
];

/** The broadcast suite's targets (issue 13): Bun's against its `publish`, Deno's against a loop. */
export const BROADCAST_TARGETS: Target[] = [
  { subject: "edgews-bun", anchor: "bun-native", size: 32, min: 0.8 },
  { subject: "edgews-bun", anchor: "bun-native", size: 1024, min: 0.8 },
  { subject: "edgews-deno", anchor: "deno-native", size: 32, min: 1.5 },
  { subject: "edgews-deno", anchor: "deno-native", size: 1024, min: 1.5 },
];

/** A target on one number per server: `subject` ÷ `anchor` at most (memory) or at least `factor`. */
type SuiteTarget = {
  suite: "memory" | "handshake";
  subject: string;
  anchor: string;
  factor: number;
};

/**
 * Targets on one number per server (issues 13 and 14): memory per idle connection at most
 * `factor` times the anchor's, handshakes per second at least `factor` times.
 */
export const SUITE_TARGETS: SuiteTarget[] = [
  { suite: "memory", subject: "edgews-deno", anchor: "deno-native", factor: 1 },
  { suite: "memory", subject: "edgews-bun", anchor: "bun-native", factor: 2 },
  { suite: "memory", subject: "edgews-node", anchor: "ws-node", factor: 1 },
  { suite: "handshake", subject: "edgews-deno", anchor: "deno-native", factor: 0.8 },
  { suite: "handshake", subject: "edgews-bun", anchor: "bun-native", factor: 0.8 },
  { suite: "handshake", subject: "edgews-node", anchor: "ws-node", factor: 1 },
];

const SUITE_WHAT = { memory: "memory per idle connection", handshake: "handshakes/s" };

type RateSample = { server: string; size: number; server_cpu: number; loadgen_cpu: number };

/**
 * Medians per server (rows) and size (columns) of a rate. A cell gets ⚠ if in any of its samples
 * the load generator used > 95% of its CPU (it, not the server, may have been the limit), † if in
 * a valid one the server got < 85% of its core (contention from other work).
 */
export function rateTable<S extends RateSample>(
  servers: string[],
  sizes: number[],
  m: Medians,
  samples: S[],
  rate: (s: S) => number | null,
  unit: string,
  extra?: { title: string; cell: (server: string) => string },
): string {
  const pre = extra ? ["server", extra.title] : ["server"];
  const lines = head(
    [...pre, ...sizes.map((z) => `${fmtSize(z)} ${unit}`)],
    [...pre.map(() => "---"), ...sizes.map(() => "---:")],
  );
  for (const s of servers.filter((x) => m[x])) {
    const cells = sizes.map((z) => {
      const v = m[s][z];
      const mine = samples.filter((x) => x.server === s && x.size === z);
      const maxLg = Math.max(0, ...mine.map((x) => x.loadgen_cpu ?? 0));
      const minSrv = Math.min(
        1,
        ...mine.filter((x) => rate(x) !== null).map((x) => x.server_cpu ?? 1),
      );
      return v === undefined
        ? "—"
        : fmtNum(v) + (maxLg > 0.95 ? " ⚠" : "") + (minSrv < CONTENTION_CPU ? " †" : "");
    });
    const pre = extra ? [serverLabel(s), extra.cell(s)] : [serverLabel(s)];
    lines.push(row([...pre, ...cells]));
  }
  return lines.join("\n");
}

/** Each edgews server ÷ each anchor, per size; "" when no pair was measured. */
export function ratioTable(m: Medians, sizes: number[]): string {
  const lines = numberHead("ratio", sizes.map(fmtSize));
  let any = false;
  for (const e of EDGEWS.filter((x) => m[x])) {
    for (const a of ANCHORS.filter((x) => m[x])) {
      any = true;
      const cells = sizes.map((z) => ratio(m[e][z], m[a][z]));
      lines.push(row([`\`${e}\` / \`${a}\``, ...cells]));
    }
  }
  return any ? lines.join("\n") : "";
}

/** The compression suite's targets (issue 13), at each of its message sizes. */
export function compressionTargets(sizes: number[]): Target[] {
  return sizes.flatMap((size) => [
    { subject: "edgews-deno", anchor: "ws-node", size, min: 2 },
    { subject: "edgews-bun", anchor: "ws-node", size, min: 2 },
    { subject: "edgews-bun", anchor: "bun-native", size, min: 1 },
    { subject: "edgews-node", anchor: "ws-node", size, min: 2 },
  ]);
}

/**
 * The `targets` (ratios at a message size) and {@link SUITE_TARGETS} (one number per server, from
 * `suites`) that were measured, met or not; "" when none was.
 */
export function targetTable(
  m: Medians | undefined,
  targets: Target[] = TARGETS,
  suites: Partial<Record<"memory" | "handshake", Record<string, number | undefined>>> = {},
): string {
  const lines = head(["target", "measured", "status"], ["---", "---:", "---"]);
  let any = false;
  for (const t of SUITE_TARGETS) {
    const x = suites[t.suite]?.[t.subject], y = suites[t.suite]?.[t.anchor];
    if (x === undefined || y === undefined) continue;
    any = true;
    const r = x / y;
    const lower = t.suite === "memory";
    const met = lower ? r <= t.factor : r >= t.factor;
    const factor = t.factor === 1 ? "" : `${t.factor}× `;
    lines.push(
      `| \`${t.subject}\` ${SUITE_WHAT[t.suite]} ${
        lower ? "≤" : "≥"
      } ${factor}\`${t.anchor}\`'s | ` +
        `${r.toFixed(2)}× | ${met ? "met" : "NOT met"} |`,
    );
  }
  for (const t of targets) {
    if (m === undefined) break;
    const x = m[t.subject]?.[t.size], y = m[t.anchor]?.[t.size];
    if (x === undefined || y === undefined) continue;
    any = true;
    const r = x / y;
    lines.push(
      `| \`${t.subject}\` ≥ ${t.min}× \`${t.anchor}\` at ${fmtSize(t.size)} | ${r.toFixed(2)}× | ${
        r >= t.min ? "met" : "NOT met"
      } |`,
    );
  }
  return any ? lines.join("\n") : "";
}

/** The median per server of `rows`' values (null: an invalid run, left out). */
export function mediansByServer(
  rows: { server: string; value: number | null }[],
): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const server of new Set(rows.map((r) => r.server))) {
    out[server] = median(
      rows.filter((r) => r.server === server && r.value !== null).map((r) => r.value!),
    );
  }
  return out;
}

/** One column: the median per server of `rows`' values (null: an invalid run, left out). */
export function simpleTable(
  servers: string[],
  title: string,
  rows: { server: string; value: number | null }[],
  digits: number,
): string {
  const lines = head(["server", title], ["---", "---:"]);
  for (const s of servers) {
    if (rows.every((r) => r.server !== s)) continue;
    const v = median(rows.filter((r) => r.server === s && r.value !== null).map((r) => r.value!));
    lines.push(`| ${serverLabel(s)} | ${v === undefined ? "—" : fmtNum(v, digits)} |`);
  }
  return lines.join("\n");
}

const RUNTIME_NAMES: Record<string, string> = { deno: "Deno", bun: "Bun", node: "Node" };

/** GB/s medians per codec op (rows) and size × runtime (columns). */
export function codecTable(samples: CodecSample[]): string {
  const sizes = [...new Set(samples.map((s) => s.size))].sort((a, b) => a - b);
  const runtimes = [...new Set(samples.map((s) => s.runtime))];
  const cols = sizes.flatMap((size) => runtimes.map((runtime) => ({ size, runtime })));
  const lines = numberHead(
    "op",
    cols.map((c) => `${fmtSize(c.size)} ${RUNTIME_NAMES[c.runtime] ?? c.runtime}`),
  );
  for (const op of CODEC_OPS.filter((op) => samples.some((s) => s.op === op))) {
    const cells = cols.map((c) => {
      const v = median(
        samples.filter((s) => s.op === op && s.size === c.size && s.runtime === c.runtime)
          .map((s) => s.gb_per_sec),
      );
      return v === undefined ? "—" : v.toFixed(2);
    });
    lines.push(row([op, ...cells]));
  }
  return lines.join("\n");
}

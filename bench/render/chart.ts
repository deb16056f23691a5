/**
 * The README's chart (bench/results.svg): echo throughput as grouped bars.
 *
 * @module
 */

import { fmtNum, fmtSize } from "../lib/format.ts";
import type { Results } from "../lib/results.ts";
import { SERVERS } from "../lib/servers.ts";

const COLORS: Record<string, string> = {
  "edgews-deno": "#1f77b4",
  "edgews-bun": "#17becf",
  "edgews-node": "#9467bd",
  "deno-native": "#7f7f7f",
  "bun-native": "#ff7f0e",
  "ws-node": "#2ca02c",
};

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// Short enough to fit over a bar: 1.68M, 577k, 59.7k, 1035.
function barLabel(v: number | undefined): string {
  if (v === undefined) return "n/a";
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e5 ? 0 : 1)}k`;
  return v.toFixed(0);
}

/**
 * The chart of `r.throughput`: one panel per message size, each with its own linear scale (rates
 * differ by orders of magnitude between sizes), one bar per server. Undefined without it.
 */
export function chartSvg(r: Results): string | undefined {
  if (!r.throughput) return undefined;
  const o = r.options, machine = r.machine, m = r.throughput.medians;
  const subtitle = `${machine.nproc} CPUs, ${machine.cpu_model}; server on CPU 0, load on CPU 1; ` +
    `${o.conns} conns × ${o.window} in flight; median of ${o.rounds}; ${machine.date.slice(0, 10)}`;
  const servers = o.servers.filter((s) => m[s]);
  const sizes = o.sizes;
  const panelW = 230, panelH = 260, top = 70, left = 20, gap = 20, barGap = 6;
  const width = left * 2 + sizes.length * panelW + (sizes.length - 1) * gap;
  const height = top + panelH + 90;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
  );
  parts.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  parts.push(
    `<text x="${left}" y="28" font-size="18" font-weight="bold">` +
      `WebSocket echo throughput (messages/s, higher is better)</text>`,
  );
  parts.push(`<text x="${left}" y="48" font-size="12" fill="#555">${escapeXml(subtitle)}</text>`);
  sizes.forEach((size, pi) => {
    const x0 = left + pi * (panelW + gap);
    const max = Math.max(1, ...servers.map((s) => m[s][size] ?? 0));
    const plotH = panelH - 40;
    const n = Math.max(1, servers.length);
    const barW = (panelW - 20 - barGap * (n - 1)) / n;
    parts.push(
      `<text x="${x0 + panelW / 2}" y="${top}" font-size="14" text-anchor="middle" ` +
        `font-weight="bold">${fmtSize(size)}</text>`,
    );
    const baseY = top + 20 + plotH;
    parts.push(
      `<line x1="${x0}" y1="${baseY}" x2="${x0 + panelW}" y2="${baseY}" stroke="#333"/>`,
    );
    servers.forEach((s, i) => {
      const v = m[s][size];
      const h = v ? (v / max) * (plotH - 16) : 0;
      const bx = x0 + 10 + i * (barW + barGap);
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${(baseY - h).toFixed(1)}" width="${barW.toFixed(1)}" ` +
          `height="${h.toFixed(1)}" fill="${COLORS[s] ?? "#999"}"><title>${
            escapeXml(`${SERVERS[s].label}, ${fmtSize(size)}: ${fmtNum(v)} msg/s`)
          }</title></rect>`,
      );
      parts.push(
        `<text x="${(bx + barW / 2).toFixed(1)}" y="${(baseY - h - 4).toFixed(1)}" ` +
          `font-size="10" text-anchor="middle">${barLabel(v)}</text>`,
      );
    });
  });
  const ly = top + panelH + 40;
  servers.forEach((s, i) => {
    const lx = left + i * 190;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[s]}"/>`);
    parts.push(
      `<text x="${lx + 18}" y="${ly}" font-size="12">${escapeXml(SERVERS[s].label)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

/**
 * Writing the reports: rendered from the saved JSON (never from the objects in memory, so a run
 * and a later `--render` write the same bytes), then formatted with the repository's deno fmt
 * settings so that the generated files pass `deno fmt --check`.
 *
 * @module
 */

import { DENO, ROOT } from "../lib/paths.ts";
import { loadJson, resultPaths, type Results, type SavedScaleout } from "../lib/results.ts";
import { chartSvg } from "./chart.ts";
import { resultsMarkdown } from "./results_md.ts";
import { scaleoutMarkdown } from "./scaleout_md.ts";

/** `text` as `deno fmt` formats a file ending in `.ext`; unchanged if deno fmt fails. */
async function formatted(text: string, ext: string): Promise<string> {
  const child = new Deno.Command(DENO, {
    args: ["fmt", "--quiet", "--config", `${ROOT}/deno.json`, "--ext", ext, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  return out.success ? new TextDecoder().decode(out.stdout) : text;
}

/** Writes RESULTS.md, and results.svg if `r` has throughput, into `dir`; returns their paths. */
export async function writeResultsReport(dir: string, r: Results): Promise<string[]> {
  await Deno.writeTextFile(`${dir}/RESULTS.md`, await formatted(resultsMarkdown(r), "md"));
  const svg = chartSvg(r);
  if (svg === undefined) return [`${dir}/RESULTS.md`];
  await Deno.writeTextFile(`${dir}/results.svg`, await formatted(svg, "svg"));
  return [`${dir}/RESULTS.md`, `${dir}/results.svg`];
}

/** Writes SCALEOUT.md into `dir`; returns its path. */
export async function writeScaleoutReport(dir: string, s: SavedScaleout): Promise<string[]> {
  await Deno.writeTextFile(`${dir}/SCALEOUT.md`, await formatted(scaleoutMarkdown(s), "md"));
  return [`${dir}/SCALEOUT.md`];
}

/**
 * Re-renders every report whose results are saved in `dir`/results/ (latest.json: RESULTS.md and
 * results.svg; scaleout.json: SCALEOUT.md). Returns the files written; throws if there is
 * nothing to render from.
 */
export async function renderSaved(dir: string): Promise<string[]> {
  const paths = resultPaths(dir);
  const latest = await loadJson<Results>(paths.latest);
  const scaleout = await loadJson<SavedScaleout>(paths.scaleout);
  if (!latest && !scaleout) {
    throw new Error(`no saved results: neither ${paths.latest} nor ${paths.scaleout} exists`);
  }
  const written: string[] = [];
  if (latest) written.push(...await writeResultsReport(dir, latest));
  else console.log(`no ${paths.latest}: RESULTS.md and results.svg left as they are`);
  if (scaleout) written.push(...await writeScaleoutReport(dir, scaleout));
  else console.log(`no ${paths.scaleout}: SCALEOUT.md left as it is`);
  return written;
}

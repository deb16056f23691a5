/**
 * Number and size formatting shared by the console output and the generated reports, so that
 * both show a value the same way.
 *
 * @module
 */

/** `n` with thousands separators and `digits` decimals; "—" when there is no number. */
export function fmtNum(n: number | undefined | null, digits = 0): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return "—";
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** A message size in the largest binary unit that divides it: 32 B, 1 KiB, 16 KiB, 1 MiB. */
export function fmtSize(n: number): string {
  if (n >= 1048576 && n % 1048576 === 0) return `${n / 1048576} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

/** A fraction as a whole percentage: 0.994 → "99%". */
export function pct(x: number): string {
  return `${fmtNum(x * 100)}%`;
}

/** Parses a size as the options write it: 32, 1k, 16KiB, 1m, 1.5MB (binary units). */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmM]?)i?[bB]?$/.exec(s.trim());
  if (!m) throw new Error(`bad size: ${s}`);
  const mult = m[2] === "" ? 1 : m[2].toLowerCase() === "k" ? 1024 : 1024 * 1024;
  return Math.round(Number(m[1]) * mult);
}

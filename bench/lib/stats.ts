/**
 * Medians and ratios. Every summary in the reports is a median over rounds, so one slow round
 * (another process woke up) does not move it.
 *
 * @module
 */

/** Medians by server, then by message size (JSON turns the sizes into string keys). */
export type Medians = Record<string, Record<number, number | undefined>>;

/** The median of `xs`, or undefined when there are none. */
export function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The median of the values that were measured (numbers ≥ 0; the load generator reports -1). */
export function medianOf(xs: (number | undefined | null)[]): number | undefined {
  return median(xs.filter((x): x is number => typeof x === "number" && x >= 0));
}

/** `x ÷ y` as "1.23×", or "—" when either is missing. */
export function ratio(x: number | undefined, y: number | undefined): string {
  return x !== undefined && y !== undefined && y > 0 ? `${(x / y).toFixed(2)}×` : "—";
}

/** A sample's server used less of its core than this: other work competed with it. */
export const CONTENTION_CPU = 0.85;

/**
 * Median per server and size of `rate` (messages or deliveries per second). Samples where the
 * server did not get (nearly) a full core measured contention from other work on the machine, not
 * the server: they are left out when clean samples exist.
 */
export function mediansBy<S extends { server: string; size: number; server_cpu: number }>(
  samples: S[],
  rate: (sample: S) => number | null,
): Medians {
  const m: Medians = {};
  for (const s of samples) m[s.server] ??= {};
  for (const server of Object.keys(m)) {
    for (const size of new Set(samples.map((s) => s.size))) {
      const valid = samples.filter((s) =>
        s.server === server && s.size === size && rate(s) !== null
      );
      const clean = valid.filter((s) => s.server_cpu >= CONTENTION_CPU);
      m[server][size] = median((clean.length ? clean : valid).map((s) => rate(s)!));
    }
  }
  return m;
}

/** The samples measured without other work on the machine, or all of them if there are none. */
export function preferClean<S extends { contended: boolean }>(samples: S[]): S[] {
  const clean = samples.filter((s) => !s.contended);
  return clean.length ? clean : samples;
}

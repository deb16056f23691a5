/**
 * Skipped tests that say why in the runner's output. Deno's and Bun's runners both honour
 * node:test's `{ skip: "reason" }`, but neither prints the reason: Deno shows `name ... ignored`,
 * Bun `(skip) name`, and of a skipped `describe` Bun shows nothing at all. So the reason goes into
 * the test's name, which both print.
 *
 * ```ts
 * const noFragments = !target.fragments && "this server has no API to send fragments";
 * test(skipName("fragmented messages", noFragments), { skip: noFragments }, async () => {});
 * ```
 * @module
 */

import { test } from "node:test";

/** `name`, followed by `(skipped: reason)` when there is a reason to skip. */
export function skipName(name: string, reason: string | false): string {
  return reason === false ? name : `${name} (skipped: ${reason})`;
}

/**
 * Stands for every test of a suite that cannot run here: one skipped test whose name says why.
 * Call it first thing in the `describe` body, and return (registering nothing else) when skipping:
 * `if (reason) return skipSuite(reason);`.
 */
export function skipSuite(reason: string): void {
  test(skipName("every test here", reason), { skip: reason }, () => {});
}
